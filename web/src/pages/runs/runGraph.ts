import type { RunDetail, RunStep } from "../../api/types";
import type { GraphNode } from "../../components/graph/Graph";
import type { LayoutEdge } from "../../components/graph/layout";
import { seconds } from "../../lib/format";

/** The run's graph from its recorded steps: one node per step (its last attempt's status), an
 * edge from each step to the next one the run went to. (The API gives the steps a run took, not
 * its definition's transitions: steps not reached yet are not drawn.) */
export function runGraph(run: RunDetail): { nodes: GraphNode[]; edges: LayoutEdge[]; attempts: Record<string, RunStep[]> } {
  const attempts: Record<string, RunStep[]> = {};
  const order: string[] = [];
  const edges: LayoutEdge[] = [];
  const seen = new Set<string>();
  let prev: string | null = null;
  for (const s of run.steps) {
    if (!attempts[s.step]) {
      attempts[s.step] = [];
      order.push(s.step);
    }
    attempts[s.step].push(s);
    if (prev && prev !== s.step && !seen.has(`${prev}->${s.step}`)) {
      seen.add(`${prev}->${s.step}`);
      edges.push({ from: prev, to: s.step });
    }
    prev = s.step;
  }
  const nodes = order.map((id) => {
    const last = attempts[id][attempts[id].length - 1];
    const n = attempts[id].length;
    return { id, label: id, status: last.status, detail: `${n > 1 ? `×${n} · ` : ""}${seconds(last.duration_s)}` };
  });
  return { nodes, edges, attempts };
}
