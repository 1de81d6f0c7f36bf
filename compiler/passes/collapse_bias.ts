/**
 * Pass `collapse-bias`: a constant added with ggml's repeat rule that is itself a repetition
 * (the seed CNN's bias1 is pre-broadcast to [26,26,32,1], every 26x26 plane one value) is
 * replaced by its smallest generating block ([1,1,32,1]). A dim is collapsed only when every
 * slice along it is bit-identical, so the result is exactly the same; otherwise the constant
 * is kept whole.
 *
 * @module
 */
import { type Graph, type Ne, numel } from "../ir/graph.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph } from "./rewrite.ts";

/** Element index of coordinate `i` in a contiguous tensor of shape `ne`. */
function flat(ne: Ne, i: readonly number[]): number {
  return i[0]! + ne[0] * (i[1]! + ne[1] * (i[2]! + ne[2] * i[3]!));
}

/** `values` of shape `ne` with dim `d` collapsed to 1 if all slices along it are equal. */
function collapseDim(values: Float32Array, ne: Ne, d: number): [Float32Array, Ne] | undefined {
  const outNe = [...ne] as [number, number, number, number];
  outNe[d] = 1;
  const out = new Float32Array(numel(outNe));
  const i = [0, 0, 0, 0];
  for (i[3] = 0; i[3] < ne[3]; i[3]++) {
    for (i[2] = 0; i[2] < ne[2]; i[2]++) {
      for (i[1] = 0; i[1] < ne[1]; i[1]++) {
        for (i[0] = 0; i[0] < ne[0]; i[0]++) {
          const v = values[flat(ne, i)]!;
          const j = [...i];
          j[d] = 0;
          const first = values[flat(ne, j)]!;
          if (!Object.is(v, first)) return undefined;
          out[flat(outNe, j)] = v;
        }
      }
    }
  }
  return [out, outNe];
}

/** The collapse-bias pass. */
export const collapseBias: GraphPass = {
  name: "collapse-bias",
  description: "replace a repeated constant operand of add by the block it repeats",
  run(graph: Graph): Graph {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "add") return undefined;
      const bias = r.old.nodes[node.src[1]!]!;
      if (bias.op.kind !== "weight") return undefined;
      let values = bias.op.values, ne = bias.ne, changed = false;
      for (let d = 0; d < 4; d++) {
        if (ne[d] === 1) continue;
        const c = collapseDim(values, ne, d);
        if (c) [values, ne, changed] = [c[0], c[1], true];
      }
      if (!changed) return undefined;
      const b2 = r.b.weight(bias.name, ne, bias.op.type, values);
      return r.b.add_(r.id(node.src[0]!), b2, node.name);
    });
  },
};
