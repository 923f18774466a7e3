import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { StatusBadge } from "../status";

export type StepNodeData = { label: string; status?: string | null; detail?: string | null };
export type StepNodeType = Node<StepNodeData, "step">;

/** A graph node: its name, a status badge and one line of detail; ports left (in) and right (out). */
export function StepNode({ data, selected }: NodeProps<StepNodeType>) {
  return (
    <div className={`step-node step-${(data.status ?? "none").replace(/[^a-z]/gi, "")}${selected ? " selected" : ""}`}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="step-label">{data.label}</div>
      {data.status && <StatusBadge status={data.status} />}
      {data.detail && <div className="step-detail">{data.detail}</div>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}
