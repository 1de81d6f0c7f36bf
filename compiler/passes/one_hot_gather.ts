/**
 * Pass `one-hot-gather`: `mul_mat(W, one_hot(tokens))` becomes `get_rows(Wᵀ, tokens)`.
 *
 * With W of ne [depth, M] (M rows of `depth`), column n of the product is
 * `sum_v W[m][v] * onehot[n][v]` = `W[m][tokens[n]]`: a lookup, not a product. The table Wᵀ
 * (ne [M, depth]: one row of M values per token value) is built once at compile time, so the run
 * copies one row per token instead of multiplying by a `depth`-wide one-hot (Magika: 1536 row
 * copies instead of 50.5 M multiply-adds). Exact: the interpreter's product skips the one-hot's
 * zeros, so it sums exactly the one weight.
 *
 * Only batch-1 token vectors (ne [n, 1, 1, 1]) and 2-D W are rewritten; anything else is copied.
 *
 * @module
 */
import type { Graph } from "../ir/graph.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph } from "./rewrite.ts";

/** The one-hot-gather pass. */
export const oneHotGather: GraphPass = {
  name: "one-hot-gather",
  description:
    "mul_mat(W, one_hot(tokens)) -> get_rows(W transposed, tokens): a row copy per token",
  run(graph: Graph): Graph {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "mul_mat") return undefined;
      const w = r.old.nodes[node.src[0]!]!, hot = r.old.nodes[node.src[1]!]!;
      if (w.op.kind !== "weight" || hot.op.kind !== "one_hot") return undefined;
      const tokens = r.old.nodes[hot.src[0]!]!;
      const [depth, m] = w.ne;
      if (w.ne[2] !== 1 || w.ne[3] !== 1 || depth !== hot.op.depth) return undefined;
      if (tokens.ne[1] !== 1 || tokens.ne[2] !== 1 || tokens.ne[3] !== 1) return undefined;
      const values = w.op.values, table = new Float32Array(depth * m);
      for (let mm = 0; mm < m; mm++) {
        for (let v = 0; v < depth; v++) table[v * m + mm] = values[mm * depth + v]!;
      }
      const t = r.b.weight(`${w.name}:rows`, [m, depth], "f32", table);
      return r.b.getRows(t, r.id(tokens.id), node.name);
    });
  },
};
