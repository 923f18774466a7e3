import { Handle, Position, type NodeProps } from "@xyflow/react";
import { StatusBadge } from "../../components/status";
import { useI18n } from "../../i18n";
import { inHandle, outHandle, type NodeKind, type PortNodeType } from "./model";
import { createContext, useContext } from "react";

/** The node kinds by name, for the node component (it draws a handle per port). */
export const KindsContext = createContext<Record<string, NodeKind>>({});

const ROW = 22; // px between port rows

/** A pipeline node: its id and kind, a typed handle per input (left) and output (right), and
 * the server's validation errors for it. */
export function PortNode({ id, data, selected }: NodeProps<PortNodeType>) {
  const { t } = useI18n();
  const kind = useContext(KindsContext)[data.kind];
  const inputs = kind?.inputs ?? [];
  const outputs = kind?.outputs ?? [];
  const rows = Math.max(inputs.length, outputs.length, 1);
  return (
    <div
      className={`port-node${selected ? " selected" : ""}${data.errors.length ? " invalid" : ""}${kind && !kind.available ? " unavailable" : ""}`}
      data-testid={`node-${id}`}
    >
      <div className="port-node-head">
        <strong>{id}</strong> <span className="muted">{data.kind}</span>
        {data.status && <StatusBadge status={data.status} />}
      </div>
      <div className="port-rows" style={{ height: rows * ROW }}>
        {inputs.map((p, i) => (
          <div key={`i${p.name}`} className="port in" style={{ top: i * ROW }}>
            <Handle
              type="target"
              id={inHandle(p.name)}
              position={Position.Left}
              data-testid={`in-${id}-${p.name}`}
              title={`${p.name}: ${p.type}`}
              className={`port-${p.type}`}
            />
            <span>
              {p.name}
              {p.required ? "*" : ""}
              {p.type !== p.name && <small> {p.type}</small>}
            </span>
          </div>
        ))}
        {outputs.map((p, i) => (
          <div key={`o${p.name}`} className="port out" style={{ top: i * ROW }}>
            <span>
              {p.type !== p.name && <small>{p.type} </small>}
              {p.name}
            </span>
            <Handle
              type="source"
              id={outHandle(p.name)}
              position={Position.Right}
              data-testid={`out-${id}-${p.name}`}
              title={`${p.name}: ${p.type}`}
              className={`port-${p.type}`}
            />
          </div>
        ))}
      </div>
      {kind && !kind.available && <div className="port-note">{t("pipelines.notAvailable")}</div>}
      {data.errors.length > 0 && (
        <ul className="port-errors" role="alert" data-testid={`errors-${id}`}>
          {data.errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
