// The drag-and-drop pipeline editor: a palette of node kinds dragged (HTML5 drag and drop) onto
// the @xyflow/react canvas, typed ports connected (a type mismatch is refused with a message),
// parameters edited in the side panel, saved as a new version (the server's violations are
// shown on the nodes they name).
import {
  addEdge,
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type IsValidConnection,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useState, type DragEvent } from "react";
import { ApiError } from "../../api/client";
import { ErrorBox } from "../../components/status";
import { layered } from "../../components/graph/layout";
import { useI18n } from "../../i18n";
import { edgeOf, errorsByNode, freshId, fromDoc, portOf, portTypes, toDoc, type NodeKind, type PipelineDoc, type PortNodeType } from "./model";
import { ParamsPanel } from "./ParamsPanel";
import { KindsContext, PortNode } from "./PortNode";
import "./pipelines.css";

const nodeTypes = { port: PortNode };
const DRAG_TYPE = "application/x-tlm-kind";

export interface EditorProps {
  kinds: NodeKind[];
  doc: PipelineDoc | null;
  statuses?: Record<string, string>; // per-node status of the run shown
  onSave: (doc: PipelineDoc) => Promise<void>;
  saveLabel: string;
}

export function Editor(props: EditorProps) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}

function initial(doc: PipelineDoc | null) {
  if (!doc) return { nodes: [] as PortNodeType[], edges: [] as Edge[] };
  const links = doc.nodes.flatMap((n) => Object.values(n.inputs ?? {}).map((ref) => ({ from: ref.split(".")[0], to: n.id })));
  const pos = layered(
    doc.nodes.map((n) => n.id),
    links,
    { x: 260, y: 150 },
  );
  return fromDoc(doc, pos);
}

function Canvas({ kinds, doc, statuses, onSave, saveLabel }: EditorProps) {
  const { t } = useI18n();
  const byKind = useMemo(() => Object.fromEntries(kinds.map((k) => [k.kind, k])), [kinds]);
  const start = useMemo(() => initial(doc), [doc]);
  const [nodes, setNodes, onNodesChange] = useNodesState<PortNodeType>(start.nodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(start.edges);
  const [name, setName] = useState(doc?.name ?? "");
  const [description, setDescription] = useState(doc?.description ?? "");
  const [selected, setSelected] = useState<string | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const { screenToFlowPosition } = useReactFlow();

  useEffect(() => {
    setNodes(start.nodes);
    setEdges(start.edges);
    setName(doc?.name ?? "");
    setDescription(doc?.description ?? "");
  }, [start, doc, setNodes, setEdges]);
  useEffect(() => {
    if (statuses) setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, status: statuses[n.id] ?? null } })));
  }, [statuses, setNodes]);

  const addNode = useCallback(
    (kind: string, position: { x: number; y: number }) => {
      setNodes((ns) => {
        const id = freshId(kind, new Set(ns.map((n) => n.id)));
        setSelected(id);
        return [...ns, { id, type: "port", position, data: { kind, params: {}, after: [], errors: [] } }];
      });
    },
    [setNodes],
  );

  const why = useCallback(
    (c: Connection | Edge): string | null => {
      if (c.source === c.target) return t("pipelines.selfLoop");
      const types = portTypes(byKind, nodes, c);
      if (!types) return t("pipelines.unknownPort");
      if (types.from !== types.to)
        return t("pipelines.typeMismatch", {
          from: `${c.source}.${portOf(c.sourceHandle)}`,
          fromType: types.from,
          to: `${c.target}.${portOf(c.targetHandle)}`,
          toType: types.to,
        });
      if (edges.some((e) => e.target === c.target && e.targetHandle === c.targetHandle))
        return t("pipelines.portTaken", { port: `${c.target}.${portOf(c.targetHandle)}` });
      return null;
    },
    [byKind, nodes, edges, t],
  );
  const isValidConnection: IsValidConnection = useCallback((c) => why(c as Connection) === null, [why]);

  const onConnect = useCallback(
    (c: Connection) => {
      setRefused(null);
      setEdges((es) => addEdge(edgeOf(c.source, portOf(c.sourceHandle), c.target, portOf(c.targetHandle)), es));
    },
    [setEdges],
  );
  // A drop on a handle that isValidConnection refused: say why (the drag alone shows nothing).
  const onConnectEnd = useCallback(
    (_: MouseEvent | TouchEvent, s: FinalConnectionState) => {
      if (s.isValid !== false || !s.toHandle || !s.fromHandle) return;
      const fromSource = s.fromHandle.type === "source";
      const src = fromSource ? s.fromHandle : s.toHandle;
      const dst = fromSource ? s.toHandle : s.fromHandle;
      if (src.type === dst.type) {
        setRefused(t("pipelines.sameSide"));
        return;
      }
      setRefused(why({ source: src.nodeId, sourceHandle: src.id ?? null, target: dst.nodeId, targetHandle: dst.id ?? null }));
    },
    [why, t],
  );

  const onDragOver = (e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const kind = e.dataTransfer.getData(DRAG_TYPE);
    if (!kind || !byKind[kind]) return;
    addNode(kind, screenToFlowPosition({ x: e.clientX, y: e.clientY }));
  };

  const save = async () => {
    setError(null);
    setSaving(true);
    try {
      await onSave(toDoc(name, description, nodes, edges));
      setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, errors: [] } })));
    } catch (err) {
      setError(err);
      const body = err instanceof ApiError ? (err.body as { violations?: { field: string; message: string }[] } | null) : null;
      const per = errorsByNode(body?.violations ?? (err instanceof ApiError && err.field ? [{ field: err.field, message: err.message }] : []));
      setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, errors: per[n.id] ?? [] } })));
    } finally {
      setSaving(false);
    }
  };

  const current = nodes.find((n) => n.id === selected) ?? null;
  return (
    <KindsContext.Provider value={byKind}>
      <div className="row wrap">
        <label htmlFor="pipeline-name">{t("pipelines.name")}</label>
        <input id="pipeline-name" value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor="pipeline-description">{t("pipelines.description")}</label>
        <input id="pipeline-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        <button type="button" className="primary" onClick={() => void save()} disabled={saving || !name.trim() || nodes.length === 0}>
          {saving ? t("common.working") : saveLabel}
        </button>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {refused && (
        <p className="refused" role="alert" data-testid="refused">
          {t("pipelines.refused")}: {refused}
        </p>
      )}
      <div className="editor">
        <nav className="palette card" aria-label={t("pipelines.palette")} data-testid="palette">
          <h2>{t("pipelines.palette")}</h2>
          <p className="muted">{t("pipelines.paletteHelp")}</p>
          {kinds.map((k) => (
            <button
              key={k.kind}
              type="button"
              draggable
              className={`palette-item${k.available ? "" : " unavailable"}`}
              data-testid={`palette-${k.kind}`}
              title={k.summary}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, k.kind);
                e.dataTransfer.effectAllowed = "move";
              }}
              onClick={() => addNode(k.kind, { x: 40 + 30 * (nodes.length % 8), y: 40 + 40 * (nodes.length % 8) })}
            >
              {k.kind}
              {!k.available && <small> · {t("pipelines.notAvailable")}</small>}
            </button>
          ))}
        </nav>
        <div className="graph editor-canvas" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas" role="group" aria-label={t("pipelines.canvas")}>
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
            onNodeClick={(_, n) => setSelected(n.id)}
            onPaneClick={() => setSelected(null)}
            fitView={doc !== null} // an empty canvas keeps its viewport: the first drop must land where it was dropped
            fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
            proOptions={{ hideAttribution: true }}
            deleteKeyCode={["Delete", "Backspace"]}
            minZoom={0.2}
          >
            <Background />
            <Controls showInteractive={false} aria-label={t("graph.controls")} />
          </ReactFlow>
        </div>
        {current ? (
          <ParamsPanel
            key={current.id}
            node={current}
            kind={byKind[current.data.kind]}
            onChange={(params) => setNodes((ns) => ns.map((n) => (n.id === current.id ? { ...n, data: { ...n.data, params } } : n)))}
            onRemove={() => {
              setNodes((ns) => ns.filter((n) => n.id !== current.id));
              setEdges((es) => es.filter((e) => e.source !== current.id && e.target !== current.id));
              setSelected(null);
            }}
          />
        ) : (
          <aside className="card params-panel muted">{t("pipelines.selectNode")}</aside>
        )}
      </div>
    </KindsContext.Provider>
  );
}
