// Per-layer view of an edit: which parent layers are kept (unticked ones are dropped; ALBERT
// shares its layers, so none can be picked), and each layer of the child: the parent layer its
// weights start from (or new, randomly initialised), its width, heads, FFN size and parameters.
import { useI18n } from "../../i18n";
import { childLayers, layerParams, type Values } from "./archFields";

const n = (x: number) => x.toLocaleString();

export function LayerTable(props: {
  family: string;
  parentLayers: number;
  parent: Values;
  values: Values;
  keep: number[] | null;
  kept: boolean[] | null;
  onKeep: (i: number, on: boolean) => void;
}) {
  const { t } = useI18n();
  const { family, parentLayers, parent, values, keep, kept, onKeep } = props;
  const rows = childLayers(family, parentLayers, values, keep, parent);
  const parentPer = layerParams(Number(parent.hidden_size) || 0, Number(parent.intermediate_size) || 0);
  const childTotal = rows.reduce((a, r) => a + r.params, 0);
  return (
    <div className="layers">
      {kept && (
        <fieldset className="keep" data-testid="keep-layers">
          <legend>{t("arch.parentLayers")}</legend>
          {kept.map((on, i) => (
            <label key={i} className="chip">
              <input type="checkbox" checked={on} onChange={(e) => onKeep(i, e.target.checked)} />
              {t("arch.layer")} {i}
            </label>
          ))}
        </fieldset>
      )}
      <table data-testid="child-layers">
        <caption>{t("arch.childLayers", { count: rows.length })}</caption>
        <thead>
          <tr>
            <th scope="col">{t("arch.layer")}</th>
            <th scope="col">{t("arch.startsFrom")}</th>
            <th scope="col">{t("arch.hidden_size")}</th>
            <th scope="col">{t("arch.num_heads")}</th>
            <th scope="col">{t("arch.headDim")}</th>
            <th scope="col">{t("arch.intermediate_size")}</th>
            <th scope="col">{t("arch.layerParams")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.index} data-from={r.from ?? "new"}>
              <td>{r.index}</td>
              <td>
                {family === "albert" ? (
                  <span className="muted">{t("arch.shared")}</span>
                ) : r.from === null ? (
                  <span className="tag new">{t("arch.newLayer")}</span>
                ) : (
                  <>
                    {t("arch.parentLayer", { i: r.from })}
                    {r.reshaped && <span className="tag warn">{t("arch.reshaped")}</span>}
                  </>
                )}
              </td>
              <td>{r.hidden}</td>
              <td>{r.heads}</td>
              <td>{r.heads ? (r.hidden / r.heads).toFixed(r.hidden % r.heads ? 2 : 0) : "–"}</td>
              <td>{r.ffn}</td>
              <td>{n(r.params)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={6}>
              {t("arch.layersTotal")}
            </th>
            <td data-testid="layers-total">
              {n(childTotal)} <span className="muted">({t("arch.parentWas")} {n(parentPer * parentLayers)})</span>
            </td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}
