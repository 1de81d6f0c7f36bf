/**
 * Plan pass `quantize-weights`: stores the matrices of the dense kernels in one of ggml's block
 * formats (q8_0 or q4_0), byte-exact with ggml's quantize_row_*_ref, so the code generators can
 * emit kernels that compute on the quantised form. f16 is not a plan pass: it only changes how
 * the module stores its weights (see `compiler/codegen/f16_weights.ts`).
 *
 * Blocks run along k for each output m, as ggml quantises a `[K, M]` mul_mat weight along its
 * rows (ne[0] = K). k is the dense kernel's input order (the plan's physical order, which is
 * the file's order for a flat input such as the FC net's pixels). K is zero-padded to a multiple
 * of 32 (784 -> 800 for the MNIST nets): ggml itself refuses to quantise rows that are not whole
 * blocks, and padding with zeros changes neither a block's scale nor any product.
 *
 * The pass runs on the plan after lowering, so it quantises the weights as the kernels use them:
 * with the graph passes applied (for the MNIST nets: the input's /255 folded into fc1).
 * Convolution weights stay f32 (they are a few percent of the bytes and the conv kernels are
 * register-blocked over f32 lanes).
 *
 * @module
 */
import { GgmlType } from "../formats/ggml_types.ts";
import { dequantize, f16BitsToF32, quantize } from "../formats/quant.ts";
import { type Graph, numel } from "../ir/graph.ts";
import { rewriteGraph } from "../passes/rewrite.ts";
import { lowerToPlan } from "./lower.ts";
import { align16, type DenseKernel, type Kernel, type Plan } from "./plan.ts";

/** Storage type of the weights in an emitted module (`ggufc compile --weights`). */
export type WeightFormat = "f32" | "f16" | "q8_0" | "q4_0";

/** The weight formats `--weights` accepts. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ["f32", "f16", "q8_0", "q4_0"];

/**
 * How a quantised dense kernel computes:
 * - "int8": as ggml's q8_0 x q8_0 / q4_0 x q8_0 vec_dot: the input is quantised per block of 32
 *   to int8 with ggml's quantize_row_q8_0, each block's integer dot product is scaled by
 *   d_w * d_x and the blocks are summed in f32;
 * - "dequant": f32 input times the weights dequantised in registers (q8_0 only).
 */
export type QuantCompute = "int8" | "dequant";

/** A dense kernel's matrix in a block format (set by {@link quantizeWeights}). */
export interface DenseQuant {
  readonly type: "q8_0" | "q4_0";
  readonly compute: QuantCompute;
  /** k rounded up to a multiple of 32. */
  readonly kPad: number;
  /** Blocks per output: kPad / 32. */
  readonly blocks: number;
  /** The integer values, `[m][kPad]` (k fastest): q8_0 -127..127, q4_0 -8..7. */
  readonly q: Int8Array;
  /** Block scales `[m][blocks]`: ggml's f16 `d`, as f32. */
  readonly d: Float32Array;
  /** ggml's block bytes, rows of m one after another (what a GGUF file would store). */
  readonly ggml: Uint8Array;
  /** The input is known to be >= 0 (raw pixels or a relu output): int8 activations are 0..127. */
  readonly nonNegativeInput: boolean;
}

/** Options of {@link quantizeWeights}. */
export interface QuantizeOptions {
  /** Kernel strategy for q8_0 (q4_0 always uses "int8"); default "int8". */
  readonly compute?: QuantCompute;
}

/**
 * Scratch bytes a quantised dense kernel needs: the int8 input (kPad), the activation scales,
 * the list of non-zero blocks and their non-zero elements (int32 each), for either backend.
 */
function scratchBytes(kPad: number): number {
  const blocks = kPad / 32;
  return align16(kPad) + align16(4 * blocks) + 4 * (2 * blocks + kPad) + 64;
}

/** Quantises one dense kernel's `[k][m]` matrix by rows of m. */
export function quantizeDense(
  k: DenseKernel,
  type: "q8_0" | "q4_0",
  compute: QuantCompute,
  nonNegativeInput: boolean,
): DenseQuant {
  const kPad = Math.ceil(k.k / 32) * 32, blocks = kPad / 32;
  const gt = type === "q8_0" ? GgmlType.Q8_0 : GgmlType.Q4_0;
  const blockBytes = type === "q8_0" ? 34 : 18;
  const q = new Int8Array(k.m * kPad);
  const d = new Float32Array(k.m * blocks);
  const ggml = new Uint8Array(k.m * blocks * blockBytes);
  const row = new Float32Array(kPad);
  for (let m = 0; m < k.m; m++) {
    for (let kk = 0; kk < k.k; kk++) row[kk] = k.weights[kk * k.m + m]!;
    const bytes = quantize(gt, row);
    ggml.set(bytes, m * blocks * blockBytes);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let b = 0; b < blocks; b++) {
      const p = b * blockBytes;
      d[m * blocks + b] = f16BitsToF32(dv.getUint16(p, true));
      for (let j = 0; j < 32; j++) {
        q[m * kPad + b * 32 + j] = type === "q8_0"
          ? dv.getInt8(p + 2 + j)
          : ((bytes[p + 2 + (j & 15)]! >> (j < 16 ? 0 : 4)) & 15) - 8;
      }
    }
  }
  return {
    type,
    compute: type === "q4_0" ? "int8" : compute,
    kPad,
    blocks,
    q,
    d,
    ggml,
    nonNegativeInput,
  };
}

/** Whether the values in buffer `buf` are >= 0 when the kernel that reads them runs. */
function nonNegative(plan: Plan, buf: number, before: number): boolean {
  if (buf === plan.input) return true; // raw pixels: the module checks 0..255
  for (let i = before - 1; i >= 0; i--) {
    const k: Kernel = plan.kernels[i]!;
    if (k.dst !== buf) continue;
    if (k.kind === "pool2d") return nonNegative(plan, k.src, i); // max/avg of values >= 0
    return k.relu || (k.kind === "dense" && k.softmax);
  }
  return false;
}

/**
 * Sets {@link DenseKernel.quant} on every dense kernel and grows its scratch buffer for the
 * quantised kernels. Run before the memory pass.
 *
 * @param plan a lowered plan (buffers not yet placed)
 * @param format the weight format; "f32" and "f16" leave the plan unchanged
 * @param options the kernel strategy
 * @returns the same plan, its dense kernels annotated
 * @example
 * ```ts ignore
 * const plan = quantizeWeights(lowerToPlan(graph), "q8_0");
 * ```
 */
export function quantizeWeights(
  plan: Plan,
  format: WeightFormat,
  options: QuantizeOptions = {},
): Plan {
  if (format !== "q8_0" && format !== "q4_0") return plan;
  plan.kernels.forEach((k, i) => {
    if (k.kind !== "dense") return;
    k.quant = quantizeDense(k, format, options.compute ?? "int8", nonNegative(plan, k.src, i));
    if (k.scratch < 0) throw new Error(`dense kernel ${i} has no scratch buffer`);
    const s = plan.buffers[k.scratch]!;
    const need = scratchBytes(k.quant.kPad);
    if (s.bytes < need) plan.buffers[k.scratch] = { ...s, bytes: need };
  });
  return plan;
}

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
