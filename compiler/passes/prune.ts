/**
 * Pass `prune`: drops nodes the output does not depend on and `cont` of an already
 * contiguous value (in the IR every value is contiguous; only a permute's layout matters).
 *
 * @module
 */
import type { Graph } from "../ir/graph.ts";
import type { GraphPass } from "./pass.ts";
import { rewriteGraph } from "./rewrite.ts";

/** The prune pass. */
export const prune: GraphPass = {
  name: "prune",
  description: "drop dead nodes and cont of a non-permuted value",
  run(graph: Graph): Graph {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "cont") return undefined;
      const src = r.old.nodes[node.src[0]!]!;
      return src.op.kind === "permute" ? undefined : r.id(src.id);
    });
  },
};
