/**
 * Pass `fold-table`: an elementwise op applied to rows gathered from a constant table is applied
 * to the table instead, at compile time: `f(get_rows(T, idx))` = `get_rows(f(T), idx)` when f
 * acts on each element alone (`gelu`, `relu`, `scale`) or with a constant that is the same for
 * every gathered row (`add`/`mul` of a [M] vector). Magika's first layer (a gather after
 * `one-hot-gather`, + bias, gelu) thus becomes one lookup in a 257 x 128 table of finished values.
 *
 * Each folded value is computed with the interpreter's formula and rounded to f32 as the
 * interpreter stores it, so the result is bit for bit what the graph computed before. The table
 * is folded only when the gather has no other consumer (a second table would cost memory).
 *
 * @module
 */
import type { Graph, Node } from "../ir/graph.ts";
import { gelu } from "../ir/scalar_ops.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph, type Rewriter } from "./rewrite.ts";

/** The folded table of `node` = f(gathered), or undefined when `node` is not foldable. */
function foldedTable(node: Node, gathered: Node, table: Float32Array, r: Rewriter) {
  const m = gathered.ne[0];
  const op = node.op;
  switch (op.kind) {
    case "gelu":
      return table.map(gelu);
    case "relu":
      return table.map((v) => (v > 0 ? v : 0));
    case "scale":
      return table.map((v) => v * op.factor);
    case "add":
    case "mul": {
      if (node.src[0] !== gathered.id) return undefined;
      const c = r.old.nodes[node.src[1]!]!;
      if (c.op.kind !== "weight" || c.ne[0] !== m || c.ne[1] * c.ne[2] * c.ne[3] !== 1) {
        return undefined;
      }
      const cv = c.op.values;
      return op.kind === "add"
        ? table.map((v, i) => v + cv[i % m]!)
        : table.map((v, i) => v * cv[i % m]!);
    }
    default:
      return undefined;
  }
}

/** The fold-table pass. */
export const foldTable: GraphPass = {
  name: "fold-table",
  description: "elementwise ops on rows gathered from a constant table are applied to the table",
  run(graph: Graph): Graph {
    let g = graph;
    // One op per sweep: each sweep folds the op right after a gather into its table.
    for (let changed = true; changed;) {
      changed = false;
      g = rewriteGraph(g, (node, r) => {
        const src = r.old.nodes[node.src[0] ?? -1];
        if (!src || src.op.kind !== "get_rows" || r.consumers(src.id).length !== 1) {
          return undefined;
        }
        const t = r.old.nodes[src.src[0]!]!;
        if (t.op.kind !== "weight") return undefined;
        const folded = foldedTable(node, src, t.op.values, r);
        if (!folded) return undefined;
        changed = true;
        const name = `${t.name}>${node.name}`;
        const table = r.b.weight(name, t.ne, "f32", Float32Array.from(folded));
        return r.b.getRows(table, r.id(src.src[1]!), node.name);
      });
    }
    return g;
  },
};
