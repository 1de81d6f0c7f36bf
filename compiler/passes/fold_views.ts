/**
 * Pass `fold-views`: `mul_mat(W, reshape(cont(permute(x))))` becomes `mul_mat(W', reshape(x))`
 * with W's columns reordered at compile time, so the permute never moves data at run time
 * (the CNNs' channels-first flatten before the dense layer). Exact: the same products are
 * summed, only the order of the terms changes.
 *
 * @module
 */
import type { Graph, Ne, Node } from "../ir/graph.ts";
import { numel } from "../ir/graph.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph } from "./rewrite.ts";

const VIEW_OPS = new Set(["permute", "cont", "reshape"]);

/**
 * For a chain of view ops ending at `node`, the element index in the chain's source for every
 * element index of `node` (both contiguous in ggml order).
 *
 * @param graph the graph
 * @param node the last view of the chain
 * @returns the source node and the index map
 */
export function viewSourceMap(graph: Graph, node: Node): { source: Node; map: Int32Array } {
  let map = new Int32Array(numel(node.ne)).map((_, i) => i);
  let cur = node;
  while (VIEW_OPS.has(cur.op.kind)) {
    const src = graph.nodes[cur.src[0]!]!;
    if (cur.op.kind === "permute") {
      const toSrc = permuteToSource(src.ne, cur.ne, cur.op.axes);
      map = map.map((i) => toSrc[i]!);
    }
    cur = src;
  }
  return { source: cur, map };
}

/**
 * For each element of permute(src) (shape `out`), its index in src.
 *
 * @param src the source shape
 * @param out the permuted shape
 * @param axes source dim i becomes result dim axes[i]
 * @returns the index map
 */
export function permuteToSource(src: Ne, out: Ne, axes: readonly number[]): Int32Array {
  const res = new Int32Array(numel(out));
  const oStride = [1, out[0], out[0] * out[1], out[0] * out[1] * out[2]];
  let i = 0;
  for (let i3 = 0; i3 < src[3]; i3++) {
    for (let i2 = 0; i2 < src[2]; i2++) {
      for (let i1 = 0; i1 < src[1]; i1++) {
        for (let i0 = 0; i0 < src[0]; i0++, i++) {
          const o = i0 * oStride[axes[0]!]! + i1 * oStride[axes[1]!]! + i2 * oStride[axes[2]!]! +
            i3 * oStride[axes[3]!]!;
          res[o] = i;
        }
      }
    }
  }
  return res;
}

/** The fold-views pass. */
export const foldViews: GraphPass = {
  name: "fold-views",
  description: "fold permute/cont/reshape before a mul_mat into a reordering of its weights",
  run(graph: Graph): Graph {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "mul_mat") return undefined;
      const w = r.old.nodes[node.src[0]!]!;
      const v = r.old.nodes[node.src[1]!]!;
      if (w.op.kind !== "weight" || !VIEW_OPS.has(v.op.kind)) return undefined;
      if (w.ne[2] !== 1 || w.ne[3] !== 1) return undefined;
      const { source, map } = viewSourceMap(r.old, v);
      const [K, M] = w.ne;
      // Column k of every row n must come from the same position perm[k] of the source's row n.
      const perm = map.subarray(0, K);
      for (let j = K; j < map.length; j++) {
        if (map[j] !== perm[j % K]! + (j - (j % K))) return undefined;
      }
      const values = new Float32Array(K * M);
      for (let m = 0; m < M; m++) {
        for (let k = 0; k < K; k++) values[m * K + perm[k]!] = w.op.values[m * K + k]!;
      }
      const w2 = r.b.weight(w.name, w.ne, w.op.type, values);
      let x = r.id(source.id);
      const flatNe = [K, v.ne[1], v.ne[2], v.ne[3]];
      if (source.ne.some((d, i) => d !== flatNe[i])) x = r.b.reshape(x, flatNe, `${v.name}:flat`);
      return r.b.mulMat(w2, x, node.name);
    });
  },
};
