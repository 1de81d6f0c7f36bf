/**
 * The reference side of `--weights`: the graph whose interpreter results the quantised module
 * must match. Kept apart from the quantize-weights pass because it lowers a probe graph to find
 * where each weight went, and the pass itself must not depend on lowering.
 *
 * @module
 */
import { GgmlType } from "../../ggml/ggml_types.ts";
import { dequantize, quantize } from "../../ggml/quant.ts";
import { type Graph, numel } from "../ir/graph.ts";
import { rewriteGraph } from "../passes/rewrite.ts";
import { lowerToPlan } from "./lower.ts";
import type { DenseKernel } from "./plan.ts";
import { quantizeDense, type WeightFormat } from "./quantize_weights.ts";

/**
 * The graph the quantised module computes, for checking it with the interpreter: `graph` (the
 * graph after the graph passes, as `compileGraph` returns it) with the matrix of every mul_mat
 * replaced by its quantised-then-dequantised values (f16: every weight rounded to f16). Blocks
 * are formed in the kernel's input order, found by lowering a probe copy of the graph.
 *
 * @param graph the optimised graph
 * @param format the weight format
 * @returns a graph with the dequantised weights
 */
export function dequantizedGraph(graph: Graph, format: WeightFormat): Graph {
  if (format === "f32") return graph;
  if (format === "f16") {
    return rewriteGraph(graph, (node, r) => {
      if (node.op.kind !== "weight") return undefined;
      const v = dequantize(
        GgmlType.F16,
        quantize(GgmlType.F16, node.op.values),
        node.op.values.length,
      );
      return r.b.weight(node.name, node.ne, node.op.type, v);
    });
  }
  // The probe: every mul_mat matrix holds k + 1 at [m][k], so the lowered kernel's column m = 0
  // tells where each logical k went.
  const mats = new Set<number>();
  for (const n of graph.nodes) if (n.op.kind === "mul_mat") mats.add(n.src[0]!);
  const probe = rewriteGraph(graph, (node, r) => {
    if (node.op.kind !== "weight" || !mats.has(node.id)) return undefined;
    const K = node.ne[0];
    const v = new Float32Array(numel(node.ne)).map((_, i) => (i % K) + 1);
    return r.b.weight(node.name, node.ne, node.op.type, v);
  });
  const probePlan = lowerToPlan(probe);
  const realPlan = lowerToPlan(graph);
  const byName = new Map<string, Float32Array>();
  realPlan.kernels.forEach((k, i) => {
    if (k.kind !== "dense") return;
    const pk = probePlan.kernels[i] as DenseKernel;
    const dq = quantizeDense(k, format, "int8", false);
    const node = graph.nodes.find((n) => n.name === k.nodes[0] && n.op.kind === "mul_mat")!;
    const w = graph.nodes[node.src[0]!]!;
    const [K, M] = w.ne;
    const values = new Float32Array(K * M);
    for (let p = 0; p < k.k; p++) {
      const logical = pk.weights[p * k.m]! - 1;
      if (logical < 0) continue; // a pad lane
      for (let m = 0; m < M; m++) {
        values[m * K + logical] = dq.q[m * dq.kPad + p]! * dq.d[m * dq.blocks + (p >> 5)]!;
      }
    }
    byName.set(w.name, values);
  });
  return rewriteGraph(graph, (node, r) => {
    const v = node.op.kind === "weight" ? byName.get(node.name) : undefined;
    return v && node.op.kind === "weight"
      ? r.b.weight(node.name, node.ne, node.op.type, v)
      : undefined;
  });
}
