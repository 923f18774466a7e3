// The graph view every module uses (workflow runs now; pipeline versions and their runs later):
// nodes with a status, laid out left to right, selectable by mouse or keyboard (Tab to a node,
// Enter to select). Read-only here; an editor passes its own nodes and change handlers to
// @xyflow/react directly and reuses StepNode and the layout.
import { Background, Controls, ReactFlow, type Edge } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useMemo } from "react";
import { useI18n } from "../../i18n";
import { layered, type LayoutEdge } from "./layout";
import { StepNode, type StepNodeType } from "./StepNode";

export interface GraphNode {
  id: string;
  label: string;
  status?: string | null;
  detail?: string | null;
}

const nodeTypes = { step: StepNode };

export function Graph({
  nodes,
  edges,
  selected,
  onSelect,
  height = 320,
  label,
}: {
  nodes: GraphNode[];
  edges: LayoutEdge[];
  selected?: string | null;
  onSelect?: (id: string) => void;
  height?: number;
  label: string;
}) {
  const { t } = useI18n();
  const positions = useMemo(() => layered(nodes.map((n) => n.id), edges), [nodes, edges]);
  const flowNodes: StepNodeType[] = useMemo(
    () =>
      nodes.map((n) => ({
        id: n.id,
        type: "step" as const,
        position: positions[n.id],
        data: { label: n.label, status: n.status, detail: n.detail },
        selected: n.id === selected,
        ariaLabel: `${n.label}${n.status ? `: ${n.status}` : ""}`,
      })),
    [nodes, positions, selected],
  );
  const flowEdges: Edge[] = useMemo(
    () =>
      edges.map((e) => ({
        id: `${e.from}->${e.to}`,
        source: e.from,
        target: e.to,
        animated: nodes.find((n) => n.id === e.to)?.status === "running",
      })),
    [edges, nodes],
  );
  return (
    <div className="graph" style={{ height }} role="group" aria-label={label} data-testid="graph">
      <ReactFlow
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        onNodeClick={(_, node) => onSelect?.(node.id)}
        proOptions={{ hideAttribution: true }}
        minZoom={0.2}
      >
        <Background />
        <Controls showInteractive={false} aria-label={t("graph.controls")} />
      </ReactFlow>
    </div>
  );
}
