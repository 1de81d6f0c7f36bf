/**
 * Pass `fold-scale`: `conv_2d(K, scale(x, s))` becomes `conv_2d(K*s, x)` and
 * `mul_mat(W, scale(x, s))` becomes `mul_mat(W*s, x)`. Both are linear in x and zero padding
 * stays zero, so the result is the same up to one rounding per product. For the MNIST models
 * this removes the `/255` of the input: the compiled module takes raw pixel values.
 *
 * @module
 */
import type { Graph } from "../ir/graph.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph } from "./rewrite.ts";

/** The fold-scale pass. */
export const foldScale: GraphPass = {
  name: "fold-scale",
  description: "fold scale(x) into the weights of the conv_2d / mul_mat that consumes it",
  run(graph: Graph): Graph {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "conv_2d" && node.op.kind !== "mul_mat") return undefined;
      const w = r.old.nodes[node.src[0]!]!;
      const x = r.old.nodes[node.src[1]!]!;
      if (w.op.kind !== "weight" || x.op.kind !== "scale") return undefined;
      const factor = x.op.factor;
      const scaled = w.op.values.map((v) => v * factor);
      const w2 = r.b.weight(`${w.name}*${factor}`, w.ne, w.op.type, scaled);
      const x2 = r.id(x.src[0]!);
      return node.op.kind === "conv_2d"
        ? r.b.conv2d(w2, x2, node.op, node.name)
        : r.b.mulMat(w2, x2, node.name);
    });
  },
};
