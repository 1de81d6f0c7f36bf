/**
 * The TypeScript backend's dense kernel for q8_0 / q4_0 weights: the same semantics as the WASM
 * kernels (compiler/codegen/dense_quant_wasm.ts) in plain loops, so both targets agree.
 * "int8": the input quantised per 32-block as ggml's quantize_row_q8_0_ref, integer dot
 * products per block, each scaled by d_w * d_x and summed over blocks in order in f32 (ggml's
 * scalar vec_dot), then the bias. "dequant": f32 input times the int8 weights, each block's sum
 * scaled by d_w. Weights `[m][kPad]` int8 (q8_0) or ggml's nibble layout `[m][block][16]`
 * (q4_0), scales `[m][block]` f32.
 *
 * The generated code reads the arena (`A`, `I`), the weights as floats (`W`) and as bytes (`U`).
 *
 * @module
 */
import type { DenseKernel, Plan } from "../plan/plan.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { addBytes } from "./dense_quant_wasm.ts";

/**
 * The body of a quantised dense kernel function.
 *
 * @param plan the placed plan
 * @param k the dense kernel (with `quant`)
 * @param blob the weights blob (its weights are appended)
 * @returns TypeScript statements
 */
export function denseQuantTs(plan: Plan, k: DenseKernel, blob: WeightBlob): string {
  const q = k.quant!;
  const src = plan.buffers[k.src]!.offset / 4, dst = plan.buffers[k.dst]!.offset / 4;
  const s = plan.buffers[k.scratch]!.offset / 4;
  const NB = q.blocks, KP = q.kPad, K = k.k, M = k.m;
  // Scratch (float/int32 indices): int8 input [kPad], scales [blocks], block list, one temp.
  const xq = s, dx = s + KP, list = s + KP + NB, tmp = s + KP + 2 * NB;
  const bytes = q.type === "q8_0"
    ? new Uint8Array(q.q.buffer, q.q.byteOffset, q.q.byteLength)
    : nibbles(q.q, M, KP);
  const w = addBytes(blob, bytes);
  const d = blob.add(q.d) / 4;
  const bias = k.bias ? `W[${blob.add(k.bias) / 4} + m]!` : "0";
  const weight = q.type === "q8_0"
    ? `(U[${w} + m * ${KP} + b * 32 + j]! << 24 >> 24)`
    : `(((U[${w} + (m * ${NB} + b) * 16 + (j & 15)]! >> (j < 16 ? 0 : 4)) & 15) - 8)`;
  const lines: string[] = [`  // dense ${K} -> ${M}, ${q.type} weights, ${q.compute}`];
  if (q.compute === "int8") {
    lines.push(
      `  let nb = 0;`,
      `  for (let b = 0; b < ${NB}; b++) {`,
      `    // ggml quantize_row_q8_0_ref: d = amax / 127 (stored as f16), q = roundf(x / d)`,
      `    let amax = 0;`,
      `    for (let j = 0; j < 32; j++) {`,
      `      const k = b * 32 + j;`,
      `      const a = k < ${K} ? Math.abs(A[${src} + k]!) : 0;`,
      `      if (a > amax) amax = a;`,
      `    }`,
      `    if (!(amax > 0)) continue;`,
      `    const d = Math.fround(amax / 127), id = Math.fround(1 / d);`,
      `    for (let j = 0; j < 32; j++) {`,
      `      const k = b * 32 + j;`,
      `      const t = k < ${K} ? Math.fround(A[${src} + k]! * id) : 0;`,
      `      I[${xq} + k] = t < 0 ? -Math.floor(-t + 0.5) : Math.floor(t + 0.5);`,
      `    }`,
      `    if (d < 6.103515625e-5) {`,
      `      const x = d * 16777216, f = Math.floor(x), fr = x - f;`,
      `      A[${dx} + b] = (fr > 0.5 || (fr === 0.5 && f % 2 === 1) ? f + 1 : f) * 5.9604644775390625e-8;`,
      `    } else {`,
      `      A[${tmp}] = d;`,
      `      const bits = I[${tmp}]!;`,
      `      I[${tmp}] = (bits + 0xfff + ((bits >>> 13) & 1)) & ~0x1fff;`,
      `      A[${dx} + b] = A[${tmp}]!;`,
      `    }`,
      `    I[${list} + nb++] = b;`,
      `  }`,
      `  for (let m = 0; m < ${M}; m++) {`,
      `    let sum = 0;`,
      `    for (let i = 0; i < nb; i++) {`,
      `      const b = I[${list} + i]!;`,
      `      let s = 0;`,
      `      for (let j = 0; j < 32; j++) s += ${weight} * I[${xq} + b * 32 + j]!;`,
      `      sum = Math.fround(sum + Math.fround(s * Math.fround(W[${d} + m * ${NB} + b]! * A[${dx} + b]!)));`,
      `    }`,
      `    A[${dst} + m] = Math.fround(sum + ${bias});`,
      `  }`,
    );
  } else {
    lines.push(
      `  for (let m = 0; m < ${M}; m++) {`,
      `    let sum = 0;`,
      `    for (let b = 0; b < ${NB}; b++) {`,
      `      let s = 0;`,
      `      for (let j = 0; j < 32; j++) {`,
      `        const k = b * 32 + j;`,
      `        if (k < ${K} && A[${src} + k]! !== 0) s = Math.fround(s + Math.fround(A[${src} + k]! * ${weight}));`,
      `      }`,
      `      sum = Math.fround(sum + Math.fround(s * W[${d} + m * ${NB} + b]!));`,
      `    }`,
      `    A[${dst} + m] = Math.fround(sum + ${bias});`,
      `  }`,
    );
  }
  if (k.relu) {
    lines.push(`  for (let m = 0; m < ${M}; m++) if (A[${dst} + m]! < 0) A[${dst} + m] = 0;`);
  }
  if (k.softmax) {
    lines.push(
      `  let max = -Infinity;`,
      `  for (let m = 0; m < ${M}; m++) max = Math.max(max, A[${dst} + m]!);`,
      `  let sum = 0;`,
      `  for (let m = 0; m < ${M}; m++) {`,
      `    const e = Math.fround(Math.exp(A[${dst} + m]! - max));`,
      `    A[${dst} + m] = e;`,
      `    sum = Math.fround(sum + e);`,
      `  }`,
      `  for (let m = 0; m < ${M}; m++) A[${dst} + m] = A[${dst} + m]! / sum;`,
    );
  }
  return lines.join("\n");
}

/** q4_0 values (-8..7, `[m][kPad]`) in ggml's nibble layout: per block j | (j + 16) << 4. */
function nibbles(q: Int8Array, M: number, KP: number): Uint8Array {
  const out = new Uint8Array((M * KP) / 2);
  for (let m = 0; m < M; m++) {
    for (let b = 0; b < KP / 32; b++) {
      for (let j = 0; j < 16; j++) {
        const o = m * KP + b * 32 + j;
        out[(m * KP) / 2 + b * 16 + j] = (q[o]! + 8) | ((q[o + 16]! + 8) << 4);
      }
    }
  }
  return out;
}
