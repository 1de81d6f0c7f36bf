/**
 * Code for `norm` calls (ggml_norm + gamma + beta over strided rows), both targets.
 *
 * Three passes per row, as ggml: the mean; each x - mean (stored) and the sum of squares; the
 * scale 1 / sqrt(variance + eps) times gamma plus beta. Sums are f32 here (ggml and the
 * interpreter sum in f64): the difference is a few f32 ulps for Magika's rows of 256 and 384.
 *
 * WASM: when rows are adjacent in memory (row stride 1, Magika's first norm over the 384
 * positions of each feature), f32x4 across 4 rows at once, walking memory in address order
 * ({@link normSimdFn}); otherwise scalar.
 *
 * @module
 */
import { F32, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { Plan } from "../plan/plan.ts";
import type { NormKernel } from "../kernels/norm.ts";
import { floatIndex, type KernelCodegen } from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at } from "./wasm_shared.ts";

/** Byte addresses of gamma and beta in the weights (-1: none). */
interface NormConsts {
  readonly gamma: number;
  readonly beta: number;
}

/** The norm family's code generators. */
export const normCodegen: KernelCodegen<NormKernel, NormConsts> = {
  kind: "norm",
  wasm: {
    scratchBytes: (k) => (simdRows(k) ? 8 * k.rows : 0),
    prepare: (k, blob, base) => ({
      gamma: k.gamma ? base + blob.add(k.gamma) : -1,
      beta: k.beta ? base + blob.add(k.beta) : -1,
    }),
    fn: (k, c, _fma, ctx) =>
      simdRows(k) ? normSimdFn(ctx.plan, k, c, ctx.scratchAt) : normScalarFn(ctx.plan, k, c),
    describe: (k) =>
      simdRows(k) ? "norm, f32x4 across adjacent rows, memory in address order" : "norm, scalar",
  },
  ts: {
    accFloats: () => 0,
    source: normTs,
    describe: () => "norm",
  },
};

/**
 * Whether rows sit side by side (row stride 1), come in fours and start 16-byte aligned: then
 * one position of 4 neighbouring rows is one f32x4.
 */
function simdRows(k: NormKernel): boolean {
  return k.at.s1 === 1 && k.rows % 4 === 0 && k.at.base % 4 === 0 && k.at.s0 % 4 === 0;
}

/**
 * Norm of rows that sit side by side (Magika's norm over the 384 positions of each of 512
 * features: position i of row j at i * 512 + j). Memory is walked in address order, one
 * position (all rows) after another, so every pass streams the buffer once; the per-row sums,
 * then means and scales, live in the scratch area (2 x rows floats, L1). Walking one group of
 * rows down all positions instead reads one 16-byte piece per 2 KiB step, and those steps map to
 * the same few L1 sets: that was 10x slower.
 *
 * Pass 1: sum[j] = sum_i x. mean = sum / n. Pass 2: sq[j] = sum_i (x - mean)^2 (not stored).
 * scale = 1 / sqrt(sq / n + eps). Pass 3: y = (x - mean) * scale (* gamma[i]) (+ beta[i]), the
 * roundings of ggml's order (x - mean, then the scale, then gamma, then beta).
 */
function normSimdFn(plan: Plan, k: NormKernel, c: NormConsts, scratchAt: number): Fn {
  const f = new Fn();
  const src = at(plan, k.src) + k.at.base * 4, dst = at(plan, k.dst) + k.at.base * 4;
  const mean = scratchAt, scale = scratchAt + k.rows * 4; // rows floats each
  const rowBytes = k.rows * 4, posBytes = k.at.s0 * 4;
  const i = f.local(I32), p = f.local(I32), j = f.local(I32);
  const v = f.local(V128), g = f.local(V128), b = f.local(V128);
  const zero = () => f.for(j, 0, rowBytes, 16, () => f.get(j).f32x4Const(0).v128Store(mean));
  const zeroScale = () => f.for(j, 0, rowBytes, 16, () => f.get(j).f32x4Const(0).v128Store(scale));
  /** For each position i (p = its byte offset), for each group of 4 rows (j = byte offset). */
  const positions = (perPosition: () => void, body: () => void) => {
    f.for(i, 0, k.n, 1, () => {
      f.index(i, posBytes).set(p);
      perPosition();
      f.for(j, 0, rowBytes, 16, body);
    });
  };
  const x = () => f.get(p).get(j).op(OP.i32Add).v128Load(src);
  // pass 1: sums, then means
  zero();
  positions(() => {}, () => {
    f.get(j).get(j).v128Load(mean);
    x();
    f.simd(SIMD.f32x4Add).v128Store(mean);
  });
  f.for(j, 0, rowBytes, 16, () => {
    f.get(j).get(j).v128Load(mean).f32x4Const(k.n).simd(SIMD.f32x4Div).v128Store(mean);
  });
  // pass 2: sums of squares, then scales
  zeroScale();
  positions(() => {}, () => {
    x();
    f.get(j).v128Load(mean).simd(SIMD.f32x4Sub).set(v);
    f.get(j).get(j).v128Load(scale).get(v).get(v).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add);
    f.v128Store(scale);
  });
  f.for(j, 0, rowBytes, 16, () => {
    f.get(j).f32x4Const(1).get(j).v128Load(scale).f32x4Const(k.n).simd(SIMD.f32x4Div);
    f.f32x4Const(k.eps).simd(SIMD.f32x4Add).simd(SIMD.f32x4Sqrt).simd(SIMD.f32x4Div);
    f.v128Store(scale);
  });
  // pass 3: the output
  positions(() => {
    if (c.gamma >= 0) f.get(i).mulConst(4).splatLoad(c.gamma).set(g);
    if (c.beta >= 0) f.get(i).mulConst(4).splatLoad(c.beta).set(b);
  }, () => {
    f.get(p).get(j).op(OP.i32Add);
    x();
    f.get(j).v128Load(mean).simd(SIMD.f32x4Sub).get(j).v128Load(scale).simd(SIMD.f32x4Mul);
    if (c.gamma >= 0) f.get(g).simd(SIMD.f32x4Mul);
    if (c.beta >= 0) f.get(b).simd(SIMD.f32x4Add);
    f.v128Store(dst);
  });
  return f;
}

/** One pass over i = 0..n-1 with `p` = the byte offset of element i of the current row. */
function overRow(f: Fn, k: NormKernel, i: number, p: number, row0: number, body: () => void) {
  f.for(i, 0, k.n, 1, () => {
    f.index(i, k.at.s0 * 4).get(row0).op(OP.i32Add).set(p);
    body();
  });
}

function normScalarFn(plan: Plan, k: NormKernel, c: NormConsts): Fn {
  const f = new Fn();
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const j = f.local(I32), row0 = f.local(I32), i = f.local(I32), p = f.local(I32);
  const sum = f.local(F32), mean = f.local(F32), d = f.local(F32), scale = f.local(F32);
  f.for(j, 0, k.rows, 1, () => {
    f.index(j, k.at.s1 * 4, k.at.base * 4).set(row0);
    f.f32(0).set(sum);
    overRow(f, k, i, p, row0, () => {
      f.get(sum).get(p).f32Load(src).op(OP.f32Add).set(sum);
    });
    f.get(sum).f32(k.n).op(OP.f32Div).set(mean);
    f.f32(0).set(sum);
    overRow(f, k, i, p, row0, () => {
      f.get(p).f32Load(src).get(mean).op(OP.f32Sub).set(d);
      f.get(p).get(d).f32Store(dst);
      f.get(sum).get(d).get(d).op(OP.f32Mul).op(OP.f32Add).set(sum);
    });
    f.f32(1).get(sum).f32(k.n).op(OP.f32Div);
    f.f32(k.eps).op(OP.f32Add).op(OP.f32Sqrt).op(OP.f32Div).set(scale);
    overRow(f, k, i, p, row0, () => {
      f.get(p).get(p).f32Load(dst).get(scale).op(OP.f32Mul);
      if (c.gamma >= 0) f.get(i).mulConst(4).f32Load(c.gamma).op(OP.f32Mul);
      if (c.beta >= 0) f.get(i).mulConst(4).f32Load(c.beta).op(OP.f32Add);
      f.f32Store(dst);
    });
  });
  return f;
}

function normTs(k: NormKernel, plan: Plan, blob: WeightBlob): string {
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const g = k.gamma ? floatIndex(blob.add(k.gamma)) : -1;
  const b = k.beta ? floatIndex(blob.add(k.beta)) : -1;
  const el = `${k.at.base} + i * ${k.at.s0} + j * ${k.at.s1}`;
  return `  // norm of ${k.rows} rows of ${k.n} (eps ${k.eps})${g >= 0 ? " * gamma" : ""}${
    b >= 0 ? " + beta" : ""
  }
  for (let j = 0; j < ${k.rows}; j++) {
    let sum = 0;
    for (let i = 0; i < ${k.n}; i++) sum = Math.fround(sum + A[${src} + ${el}]!);
    const mean = Math.fround(sum / ${k.n});
    let sum2 = 0;
    for (let i = 0; i < ${k.n}; i++) {
      const d = Math.fround(A[${src} + ${el}]! - mean);
      A[${dst} + ${el}] = d;
      sum2 = Math.fround(sum2 + Math.fround(d * d));
    }
    const scale = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(Math.fround(sum2 / ${k.n}) + ${
    Math.fround(k.eps)
  }))));
    for (let i = 0; i < ${k.n}; i++) {
      A[${dst} + ${el}] = A[${dst} + ${el}]! * scale${
    g >= 0 ? `;\n      A[${dst} + ${el}] = A[${dst} + ${el}]! * W[${g} + i]!` : ""
  }${b >= 0 ? `;\n      A[${dst} + ${el}] = A[${dst} + ${el}]! + W[${b} + i]!` : ""};
    }
  }`;
}
