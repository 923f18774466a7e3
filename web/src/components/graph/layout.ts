// A layered layout for small DAGs (workflow steps, pipeline nodes): each node's layer is its
// longest path from a source; nodes in a layer are stacked in input order. Enough for tens of
// nodes without pulling elkjs into the bundle; a pipeline editor may swap in elkjs later.
export interface LayoutEdge {
  from: string;
  to: string;
}

export function layered(ids: string[], edges: LayoutEdge[], gap = { x: 230, y: 90 }): Record<string, { x: number; y: number }> {
  const layer: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  const known = new Set(ids);
  const forward = edges.filter((e) => known.has(e.from) && known.has(e.to) && e.from !== e.to);
  // relax at most |V| times: a cycle (a retry loop drawn back) cannot push layers forever
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const e of forward) {
      if (ids.indexOf(e.to) < ids.indexOf(e.from)) continue; // a back edge: keep it out of the layering
      if (layer[e.to] < layer[e.from] + 1) {
        layer[e.to] = layer[e.from] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const rows: Record<number, number> = {};
  const out: Record<string, { x: number; y: number }> = {};
  for (const id of ids) {
    const l = layer[id];
    const row = rows[l] ?? 0;
    rows[l] = row + 1;
    out[id] = { x: l * gap.x, y: row * gap.y };
  }
  return out;
}
