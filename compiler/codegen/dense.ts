/**
 * Code for `dense` calls (matrix-vector product + bias + relu | soft_max), both targets.
 *
 * WASM, f32 weights: with few outputs (<= 12, e.g. the 10 logits), one f32x4 dot-product
 * accumulator per output along k (weights as [m][k]). Otherwise the call first collects the
 * indices of the non-zero inputs (raw MNIST pixels are ~80% zero, hidden relu outputs ~50%),
 * then per block of up to 8 output vectors accumulates only those rows (weights as
 * [block][k][V*4]). Adding x*w for x == 0 changes nothing, so this is exact. soft_max uses the
 * imported `Math.exp` in f64, as the interpreter does. q8_0 / q4_0 weights: dense_quant_wasm.ts.
 *
 * TS: the non-zero-input loop without SIMD (quantised weights: dense_quant_ts.ts).
 *
 * @module
 */
import { Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { DenseKernel, Plan } from "../plan/plan.ts";
import { floatIndex, type KernelCodegen, MAX_ACC } from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at, madd, packColumnBlocks, softmax } from "./wasm_shared.ts";
import {
  describeQuantDense,
  prepareQuantDense,
  quantDenseFn,
  type QuantDensePlan,
} from "./dense_quant_wasm.ts";
import { denseQuantTs } from "./dense_quant_ts.ts";

/** Dense kernels with at most this many outputs use one dot-product accumulator per output. */
const DOT_ROWS = 12;

/** The dense family's code generators. */
export const denseCodegen: KernelCodegen<DenseKernel, DensePlan | QuantDensePlan> = {
  kind: "dense",
  wasm: {
    scratchBytes: () => 0,
    prepare: (k, blob, base) =>
      k.quant ? prepareQuantDense(k, blob, base) : prepareDense(k, blob, base),
    fn: (k, s, fma, ctx) =>
      "quant" in s ? quantDenseFn(ctx.plan, k, s, fma) : denseFn(ctx.plan, k, s, fma),
    describe: (k, s) =>
      "quant" in s
        ? describeQuantDense(k, s)
        : s.dot
        ? `dense, ${k.m} f32x4 dot-product accumulators along k`
        : `dense over non-zero inputs, ${s.V} f32x4 output vectors per block`,
  },
  ts: {
    accFloats: () => 0,
    source: (k, plan, blob) => k.quant ? denseQuantTs(plan, k, blob) : denseTs(k, plan, blob),
    describe: () => "dense over non-zero inputs",
  },
};

/** Packs f32 dense weights in the WASM layout and decides the strategy. */
function prepareDense(k: DenseKernel, blob: WeightBlob, base: number): DensePlan {
  if (k.m <= DOT_ROWS && k.k % 4 === 0) {
    // Few outputs: dot products along k (weights as [m][k]), no index list.
    const wt = new Float32Array(k.m * k.k);
    for (let m = 0; m < k.m; m++) {
      for (let kk = 0; kk < k.k; kk++) wt[m * k.k + kk] = k.weights[kk * k.m + m]!;
    }
    const bias = k.bias ? base + blob.add(k.bias) : -1;
    return { dot: true, V: 0, blocks: 0, tail: 0, w: base + blob.add(wt), bias };
  }
  const vecs = Math.ceil(k.m / 4);
  const V = Math.min(MAX_ACC, vecs);
  const blocks = Math.floor(vecs / V), tail = vecs % V;
  const w = base + blob.add(packColumnBlocks(k.weights, k.k, k.m, V, blocks, tail));
  const bias = k.bias ? base + blob.add(padTo(k.bias, vecs * 4)) : -1;
  return { dot: false, V, blocks, tail, w, bias };
}

/** How an f32 dense call is computed (the batch kernels of dense_batch.ts reuse it). */
export interface DensePlan {
  /** Dot products along k (few outputs) instead of broadcast-and-accumulate over outputs. */
  readonly dot: boolean;
  readonly V: number;
  readonly blocks: number;
  readonly tail: number;
  readonly w: number;
  readonly bias: number;
}

function padTo(v: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  out.set(v);
  return out;
}

function denseFn(plan: Plan, k: DenseKernel, s: DensePlan, fma: boolean): Fn {
  const f = new Fn();
  if (s.dot) denseDot(f, plan, k, s, fma);
  else denseSparse(f, plan, k, s, fma);
  if (k.softmax) softmax(f, at(plan, k.dst), k.m);
  return f;
}

/** out[m] = bias[m] + dot(x, W[m]) with one f32x4 accumulator per output row. */
function denseDot(f: Fn, plan: Plan, k: DenseKernel, s: DensePlan, fma: boolean): void {
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const kb = f.local(I32), x = f.local(V128), w = f.local(V128);
  const acc = Array.from({ length: k.m }, () => f.local(V128));
  for (const a of acc) f.f32x4Const(0).set(a);
  f.for(kb, 0, k.k * 4, 16, () => {
    f.v128LoadFrom(kb, src).set(x);
    acc.forEach((a, m) => {
      f.v128LoadFrom(kb, s.w + m * k.k * 4).set(w);
      madd(f, a, x, w, fma);
    });
  });
  acc.forEach((a, m) => {
    f.i32(0);
    f.get(a).f32x4ExtractLane(0).get(a).f32x4ExtractLane(1).op(OP.f32Add);
    f.get(a).f32x4ExtractLane(2).get(a).f32x4ExtractLane(3).op(OP.f32Add);
    f.op(OP.f32Add);
    if (s.bias >= 0) f.i32(0).f32Load(s.bias + m * 4).op(OP.f32Add);
    if (k.relu) f.f32(0).op(OP.f32Max);
    f.f32Store(dst + m * 4);
  });
  // Zero the pad lanes up to the next vector, as the other dense kernels leave them.
  for (let m = k.m; m % 4 !== 0; m++) f.i32(0).f32(0).f32Store(dst + m * 4);
}

/** Broadcast-and-accumulate over output vectors, visiting only the non-zero inputs. */
function denseSparse(f: Fn, plan: Plan, k: DenseKernel, s: DensePlan, fma: boolean): void {
  const src = at(plan, k.src), dst = at(plan, k.dst), idx = at(plan, k.scratch);
  const kb = f.local(I32),
    np = f.local(I32),
    j = f.local(I32),
    kk = f.local(I32),
    wr = f.local(I32);
  const maxV = Math.max(s.V, s.tail);
  const acc = Array.from({ length: maxV }, () => f.local(V128));
  const xv = f.local(V128);
  // Byte offsets of the non-zero inputs into the scratch list; np ends one past the last.
  f.i32(idx).set(np);
  f.for(kb, 0, k.k * 4, 4, () => {
    f.get(kb).f32Load(src).f32(0).op(OP.f32Ne);
    f.if(() => {
      f.get(np).get(kb).i32Store();
      f.inc(np, 4);
    });
  });
  const block = (V: number, blockIndex: number, wBase: number) => {
    for (let v = 0; v < V; v++) {
      if (s.bias >= 0) f.i32(0).v128Load(s.bias + (blockIndex * s.V + v) * 16);
      else f.f32x4Const(0);
      f.set(acc[v]!);
    }
    f.block(() => {
      f.get(np).i32(idx).op(OP.i32Eq).brIf(0); // no non-zero input
      f.i32(idx).set(j);
      f.loop(() => {
        f.get(j).i32Load().set(kk);
        f.get(kk).splatLoad(src).set(xv);
        f.index(kk, V * 4, wBase).set(wr);
        for (let v = 0; v < V; v++) {
          // acc += x * w, w loaded in place (the operand order of madd in wasm_shared.ts).
          if (fma) f.get(xv).v128LoadFrom(wr, v * 16).get(acc[v]!).simd(SIMD.f32x4RelaxedMadd);
          else {
            f.get(acc[v]!).get(xv).v128LoadFrom(wr, v * 16);
            f.simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add);
          }
          f.set(acc[v]!);
        }
        f.get(j).addConst(4).tee(j).get(np).op(OP.i32LtS).brIf(0);
      });
    });
    for (let v = 0; v < V; v++) {
      f.i32(0).get(acc[v]!);
      if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
      f.v128Store(dst + (blockIndex * s.V + v) * 16);
    }
  };
  const blockBytes = k.k * s.V * 16;
  for (let b = 0; b < s.blocks; b++) block(s.V, b, s.w + b * blockBytes);
  if (s.tail) block(s.tail, s.blocks, s.w + s.blocks * blockBytes);
}

function denseTs(k: DenseKernel, plan: Plan, blob: WeightBlob): string {
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const idx = floatIndex(plan.buffers[k.scratch]!.offset);
  const w = floatIndex(blob.add(k.weights));
  const b = k.bias ? floatIndex(blob.add(k.bias)) : -1;
  const lines = [
    `  // dense ${k.k} -> ${k.m}: out[m] = bias[m] + sum over non-zero x[k] of x[k] * W[k][m]`,
    `  let n = 0;`,
    `  for (let k = 0; k < ${k.k}; k++) if (A[${src} + k]! !== 0) I[${idx} + n++] = k;`,
    `  for (let m = 0; m < ${k.m}; m++) A[${dst} + m] = ${b >= 0 ? `W[${b} + m]!` : "0"};`,
    `  for (let j = 0; j < n; j++) {`,
    `    const k = I[${idx} + j]!;`,
    `    const v = A[${src} + k]!;`,
    `    const r = ${w} + k * ${k.m};`,
    `    for (let m = 0; m < ${k.m}; m++) A[${dst} + m] = A[${dst} + m]! + v * W[r + m]!;`,
    `  }`,
  ];
  if (k.relu) {
    lines.push(`  for (let m = 0; m < ${k.m}; m++) if (A[${dst} + m]! < 0) A[${dst} + m] = 0;`);
  }
  if (k.softmax) {
    lines.push(
      `  let max = -Infinity;`,
      `  for (let m = 0; m < ${k.m}; m++) max = Math.max(max, A[${dst} + m]!);`,
      `  let sum = 0;`,
      `  for (let m = 0; m < ${k.m}; m++) {`,
      `    const e = Math.fround(Math.exp(A[${dst} + m]! - max));`,
      `    A[${dst} + m] = e;`,
      `    sum = Math.fround(sum + e);`,
      `  }`,
      `  for (let m = 0; m < ${k.m}; m++) A[${dst} + m] = A[${dst} + m]! / sum;`,
    );
  }
  return lines.join("\n");
}
