// A config's values as dotted leaves (what the API's `set` and blame speak), and back.
export type Leaf = { path: string; value: unknown; kind: "integer" | "number" | "boolean" | "string" | "json" };

export function leaves(values: unknown, prefix = ""): Leaf[] {
  if (values && typeof values === "object" && !Array.isArray(values)) {
    return Object.entries(values as Record<string, unknown>).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  const kind =
    typeof values === "boolean" ? "boolean" : typeof values === "number" ? (Number.isInteger(values) ? "integer" : "number") : typeof values === "string" ? "string" : "json";
  return [{ path: prefix, value: values, kind }];
}

/** Parse a form field's text for its leaf's kind; an Error names what is wrong. */
export function parseLeaf(leaf: Leaf, text: string): unknown {
  switch (leaf.kind) {
    case "integer": {
      if (!/^-?\d+$/.test(text.trim())) throw new Error("integer");
      return Number(text);
    }
    case "number": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw new Error("number");
      return n;
    }
    case "boolean":
      return text === "true";
    case "string":
      return text;
    default:
      try {
        return JSON.parse(text);
      } catch {
        throw new Error("json");
      }
  }
}

export const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
