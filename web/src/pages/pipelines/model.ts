// The editor's model of a pipeline: @xyflow/react nodes (one per pipeline node, a handle per
// typed port) and edges (output port -> input port), to and from the API's document
// (format tlm.pipeline: nodes as a list, an input naming "<node>.<port>").
import type { Edge, Node } from "@xyflow/react";

export interface Port {
  name: string;
  type: string;
  required?: boolean;
}

export interface NodeKind {
  kind: string;
  summary: string;
  available: boolean;
  inputs: Port[];
  outputs: Port[];
  params_schema: { properties?: Record<string, ParamSchema>; required?: string[] };
}

export interface ParamSchema {
  type?: string;
  enum?: string[];
  anyOf?: ParamSchema[];
  default?: unknown;
  title?: string;
  description?: string;
}

export interface DocNode {
  id: string;
  kind: string;
  params?: Record<string, unknown>;
  inputs?: Record<string, string>;
  after?: string[];
}

export interface PipelineDoc {
  format?: string;
  schema_version?: number;
  name: string;
  description?: string;
  nodes: DocNode[];
}

export interface Pipeline {
  pipeline_id: string;
  project_id: string;
  name: string;
  description: string;
  version: number;
  definition: PipelineDoc;
  stages: string[][];
  not_available: string[];
}

export type PortNodeData = {
  kind: string;
  params: Record<string, unknown>;
  after: string[];
  errors: string[]; // server-side violations naming this node ("inputs.model: ...")
  status?: string | null; // in a run
};
export type PortNodeType = Node<PortNodeData, "port">;

/** Handle ids: "in:<port>" / "out:<port>" (an input and an output may share a name). */
export const inHandle = (port: string) => `in:${port}`;
export const outHandle = (port: string) => `out:${port}`;
export const portOf = (handle: string | null | undefined) => (handle ?? "").replace(/^(in|out):/, "");

export function fromDoc(doc: PipelineDoc, positions: Record<string, { x: number; y: number }>): { nodes: PortNodeType[]; edges: Edge[] } {
  const nodes: PortNodeType[] = doc.nodes.map((n) => ({
    id: n.id,
    type: "port",
    position: positions[n.id] ?? { x: 0, y: 0 },
    data: { kind: n.kind, params: n.params ?? {}, after: n.after ?? [], errors: [] },
  }));
  const edges: Edge[] = [];
  for (const n of doc.nodes)
    for (const [port, ref] of Object.entries(n.inputs ?? {})) {
      const [src, srcPort] = ref.split(".");
      edges.push(edgeOf(src, srcPort, n.id, port));
    }
  return { nodes, edges };
}

export function edgeOf(source: string, sourcePort: string, target: string, targetPort: string): Edge {
  return {
    id: `${source}.${sourcePort}->${target}.${targetPort}`,
    source,
    sourceHandle: outHandle(sourcePort),
    target,
    targetHandle: inHandle(targetPort),
  };
}

export function toDoc(name: string, description: string, nodes: PortNodeType[], edges: Edge[]): PipelineDoc {
  return {
    format: "tlm.pipeline",
    schema_version: 1,
    name,
    description,
    nodes: nodes.map((n) => {
      const inputs: Record<string, string> = {};
      for (const e of edges)
        if (e.target === n.id) inputs[portOf(e.targetHandle)] = `${e.source}.${portOf(e.sourceHandle)}`;
      const out: DocNode = { id: n.id, kind: n.data.kind };
      if (Object.keys(n.data.params).length) out.params = n.data.params;
      if (Object.keys(inputs).length) out.inputs = inputs;
      if (n.data.after.length) out.after = n.data.after;
      return out;
    }),
  };
}

/** The port types of a connection; null when a port is unknown. */
export function portTypes(
  kinds: Record<string, NodeKind>,
  nodes: PortNodeType[],
  c: { source: string | null; sourceHandle?: string | null; target: string | null; targetHandle?: string | null },
): { from: string; to: string } | null {
  const s = nodes.find((n) => n.id === c.source);
  const t = nodes.find((n) => n.id === c.target);
  if (!s || !t) return null;
  const out = kinds[s.data.kind]?.outputs.find((p) => p.name === portOf(c.sourceHandle));
  const inp = kinds[t.data.kind]?.inputs.find((p) => p.name === portOf(c.targetHandle));
  if (!out || !inp) return null;
  return { from: out.type, to: inp.type };
}

/** A fresh node id for a kind: the kind's name, then kind_2, kind_3 ... (ids are identifiers). */
export function freshId(kind: string, taken: Set<string>): string {
  const base = kind.replace(/[^a-z0-9_]/g, "_").replace(/^[^a-z]+/, "n") || "node";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** Violations {"field": "nodes.<id>.<rest>"} grouped by node id. */
export function errorsByNode(violations: { field: string; message: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of violations) {
    const m = /^nodes\.([a-z][a-z0-9_]*)(?:\.(.*))?$/.exec(v.field ?? "");
    if (!m) continue;
    (out[m[1]] ??= []).push(`${m[2] ? `${m[2]}: ` : ""}${v.message}`);
  }
  return out;
}
