// The architecture section in family-neutral terms, as domain/configs/arch.py's FIELDS maps it
// (XLNet: n_layer, d_model, n_head, d_inner...), with the schema's bounds and cross-field rules
// (domain/configs/validation.py) checked in the browser before the server checks them again.

export type Generic =
  | "num_layers"
  | "hidden_size"
  | "num_heads"
  | "intermediate_size"
  | "activation"
  | "hidden_dropout"
  | "attention_dropout"
  | "embedding_size"
  | "num_hidden_groups"
  | "inner_group_num";

const BERT: Partial<Record<Generic, string>> = {
  num_layers: "num_hidden_layers",
  hidden_size: "hidden_size",
  num_heads: "num_attention_heads",
  intermediate_size: "intermediate_size",
  activation: "hidden_act",
  hidden_dropout: "hidden_dropout_prob",
  attention_dropout: "attention_probs_dropout_prob",
};
export const FIELDS: Record<string, Partial<Record<Generic, string>>> = {
  bert: BERT,
  roberta: BERT,
  electra: { ...BERT, embedding_size: "embedding_size" },
  albert: { ...BERT, embedding_size: "embedding_size", num_hidden_groups: "num_hidden_groups", inner_group_num: "inner_group_num" },
  xlnet: { num_layers: "n_layer", hidden_size: "d_model", num_heads: "n_head", intermediate_size: "d_inner", activation: "ff_activation", hidden_dropout: "dropout" },
};

export const ACTIVATIONS = ["gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate", "quick_gelu", "relu", "relu2", "relu6", "leaky_relu", "silu", "swish", "mish", "tanh", "sigmoid", "linear"];

const INT: Partial<Record<Generic, [number, number]>> = {
  num_layers: [1, 128],
  hidden_size: [1, 8192],
  num_heads: [1, 128],
  intermediate_size: [1, 65536],
  embedding_size: [1, 8192],
  num_hidden_groups: [1, 128],
  inner_group_num: [1, 128],
};
const PROB: Generic[] = ["hidden_dropout", "attention_dropout"];

export type Values = Partial<Record<Generic, string>>;
export type Problem = { field: Generic; key: "integer" | "range" | "probability" | "divisible" | "embedding" | "groups" | "keep"; vars?: Record<string, number> };

/** The generic fields a family's architecture has, with their current values as text. */
export function readArch(family: string, arch: Record<string, unknown>): Values {
  const out: Values = {};
  for (const [g, key] of Object.entries(FIELDS[family] ?? {})) if (key in arch) out[g as Generic] = String(arch[key]);
  return out;
}

/** What is wrong with the edited values (empty: nothing the browser can see). */
export function problems(family: string, v: Values, keepCount: number | null): Problem[] {
  const out: Problem[] = [];
  const num = (g: Generic) => (v[g] === undefined || v[g]!.trim() === "" ? null : Number(v[g]));
  for (const [g, [lo, hi]] of Object.entries(INT) as [Generic, [number, number]][]) {
    if (!(g in v)) continue;
    const n = num(g);
    if (n === null || !Number.isInteger(n)) out.push({ field: g, key: "integer" });
    else if (n < lo || n > hi) out.push({ field: g, key: "range", vars: { lo, hi } });
  }
  for (const g of PROB) {
    if (!(g in v)) continue;
    const n = num(g);
    if (n === null || !(n >= 0 && n < 1)) out.push({ field: g, key: "probability" });
  }
  const h = num("hidden_size"), heads = num("num_heads");
  if (h && heads && Number.isInteger(h) && Number.isInteger(heads) && h % heads) out.push({ field: "num_heads", key: "divisible", vars: { hidden: h, heads } });
  const emb = num("embedding_size");
  if (family === "albert" && emb && h && emb > h) out.push({ field: "embedding_size", key: "embedding" });
  const layers = num("num_layers"), groups = num("num_hidden_groups");
  if (family === "albert" && layers && groups && groups > layers) out.push({ field: "num_hidden_groups", key: "groups" });
  if (keepCount !== null && layers && layers < keepCount) out.push({ field: "num_layers", key: "keep", vars: { kept: keepCount } });
  return out;
}

/** The edit for POST /configs/{id}/derive: only what differs from the parent, plus keep_layers. */
export function editOf(parent: Values, v: Values, keep: number[] | null): Record<string, unknown> {
  const edit: Record<string, unknown> = {};
  for (const [g, text] of Object.entries(v) as [Generic, string][]) {
    if (text === parent[g]) continue;
    edit[g] = g === "activation" ? text : Number(text);
  }
  if (keep) edit.keep_layers = keep;
  return edit;
}

/** Parameters of one transformer layer (attention q/k/v/o with biases, two layer norms, the FFN). */
export function layerParams(hidden: number, ffn: number): number {
  return 4 * (hidden * hidden + hidden) + 2 * hidden + (hidden * ffn + ffn) + (ffn * hidden + hidden) + 2 * hidden;
}

export interface LayerRow {
  index: number;
  from: number | null; // the parent layer whose weights it starts from (null: new, random init)
  hidden: number;
  heads: number;
  ffn: number;
  params: number;
  reshaped: boolean; // its shapes differ from the parent's: the weights cannot be carried
}

/** The child's layers as the derive would build them (domain/configs/arch.py's layer map). */
export function childLayers(family: string, parentLayers: number, v: Values, keep: number[] | null, parent: Values): LayerRow[] {
  const n = Number(v.num_layers ?? parentLayers) || 0;
  const hidden = Number(v.hidden_size) || 0, heads = Number(v.num_heads) || 1, ffn = Number(v.intermediate_size) || 0;
  const reshaped = hidden !== Number(parent.hidden_size) || ffn !== Number(parent.intermediate_size);
  const rows: LayerRow[] = [];
  for (let i = 0; i < Math.min(n, 128); i++) {
    const from = family === "albert" ? null : keep ? (i < keep.length ? keep[i] : null) : i < parentLayers ? i : null;
    rows.push({ index: i, from, hidden, heads, ffn, params: layerParams(hidden, ffn), reshaped: from !== null && reshaped });
  }
  return rows;
}
