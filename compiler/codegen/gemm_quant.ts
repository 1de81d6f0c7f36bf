/**
 * Code for `gemm` calls whose matrix is in q8_0 blocks ({@link GemmQuant}), both targets.
 *
 * Two phases per call:
 * 1. The activations are quantised per row and block of 32 into the kernels' scratch area:
 *    d = amax / 63, q = round(x / d) (ties to even, by adding 1.5 * 2^23 + 64 to x * (1 / d):
 *    the low byte of the sum's bits is then q + 64, 1..127), stored as bytes q + 64 (`xq`,
 *    [row][k]) and the scales as f32 (`dx`, [row][block]). An all-zero block gets d = 0, q = 0.
 * 2. For each group of V = 2 output vectors (8 outputs) and R = 3 rows, per block of 32: six i32
 *    sums start at -64 * sum(q_w) of the block (so the + 64 of the activations cancels, exactly)
 *    and take 8 quads of k; one quad is an i32 splat of 4 activation bytes times 16 weight bytes
 *    ([output 4][k 4]) with `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16 multiply-adds; in the
 *    plain SIMD128 variant: i16 extends, two `i32x4.dot_i16x8_s` and a pairwise add); at the
 *    end of the block each sum becomes f32 and is multiply-added, scaled by d_x * d_w, into an
 *    f32 sum that started at the bias. 6 i32 + 6 f32 sums, 2 weight vectors and a splat: 15 of
 *    x64's 16 vector registers. Then the activation and the store, as the f32 kernel does.
 *
 * The integer sums are exact, so both WASM variants and the TS code compute the same integers;
 * the f32 steps are mul then add (plain, TS) or FMA (relaxed).
 *
 * Weights, per group: int8 `[block][quad][v][output 4][k 4]`, then per block one record
 * `[v][4 f32 d_w]` + `[v][4 i32 -64 * sum(q_w)]`.
 *
 * @module
 */
import { F32, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { GemmKernel, Plan } from "../plan/plan.ts";
import { floatIndex } from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at, geluConstants, storeActivated } from "./wasm_shared.ts";
import { addBytes } from "./dense_quant_wasm.ts";

/** Rows and output vectors per register block. */
const ROWS = 3;
const VECS = 2;
/** 1.5 * 2^23 + 64: x * (1 / d) plus this has bits 0x4B400000 + 64 + round(x / d). */
const Q_MAGIC = 12582912 + 64;

/** Byte indices of i32 lanes 0, 2, 4, 6 (and 1, 3, 5, 7) of two concatenated vectors. */
const EVEN_I32_LANES = [0, 2, 4, 6].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));
const ODD_I32_LANES = [1, 3, 5, 7].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));

/** Where a quantised gemm's constants are. */
export interface QuantGemmPlan {
  readonly quant: true;
  /** Full column groups of VECS vectors, then one group of `tail` vectors (0: none). */
  readonly groups: number;
  readonly tail: number;
  /** Byte addresses of the packed int8 weights and of the per-block records. */
  readonly w: number;
  readonly rec: number;
  /** Bytes of int8 weights and of records per full group. */
  readonly groupW: number;
  readonly groupRec: number;
  /** Byte address of the bias padded to mPad (-1: none), of the gelu constants (-1: none). */
  readonly bias: number;
  readonly gelu: number;
}

/** Scratch bytes: the quantised activations (n x k bytes) and their scales (n x blocks f32). */
export function quantGemmScratch(k: GemmKernel): number {
  const q = k.quant!;
  return Math.ceil((k.n * k.k) / 16) * 16 + 4 * k.n * q.blocks;
}

/** Packs the int8 weights and the per-block records of every group. */
export function prepareQuantGemm(k: GemmKernel, blob: WeightBlob, base: number): QuantGemmPlan {
  const q = k.quant!;
  const vecs = k.mPad / 4;
  const groups = Math.floor(vecs / VECS), tail = vecs % VECS;
  const widths = [...Array(groups).fill(VECS), ...(tail ? [tail] : [])] as number[];
  const wBytes = new Int8Array(k.k * k.mPad);
  const rec = new Int32Array((k.mPad / 4) * q.blocks * 8);
  const recF = new Float32Array(rec.buffer);
  let o = 0, r = 0, v0 = 0;
  for (const V of widths) {
    for (let b = 0; b < q.blocks; b++) {
      for (let qd = 0; qd < 8; qd++) {
        for (let v = 0; v < V; v++) {
          for (let j = 0; j < 4; j++) {
            const m = 4 * (v0 + v) + j;
            for (let i = 0; i < 4; i++) {
              wBytes[o++] = m < k.m ? q.q[m * k.k + 32 * b + 4 * qd + i]! : 0;
            }
          }
        }
      }
    }
    for (let b = 0; b < q.blocks; b++) {
      for (let v = 0; v < V; v++) {
        for (let j = 0; j < 4; j++) {
          const m = 4 * (v0 + v) + j;
          recF[r + 4 * v + j] = m < k.m ? q.d[m * q.blocks + b]! : 0;
          let sum = 0;
          for (let i = 0; m < k.m && i < 32; i++) sum += q.q[m * k.k + 32 * b + i]!;
          rec[r + 4 * (V + v) + j] = -64 * sum;
        }
      }
      r += 8 * V;
    }
    v0 += V;
  }
  const w = base + addBytes(blob, new Uint8Array(wBytes.buffer));
  const recAt = base + blob.add(recF);
  let bias = -1;
  if (k.bias) {
    const padded = new Float32Array(k.mPad);
    padded.set(k.bias);
    bias = base + blob.add(padded);
  }
  const gelu = k.activation === "gelu" ? base + blob.add(geluConstants()) : -1;
  return {
    quant: true,
    groups,
    tail,
    w,
    rec: recAt,
    groupW: k.k * VECS * 4,
    groupRec: q.blocks * VECS * 32,
    bias,
    gelu,
  };
}

/** One line for `--plan`. */
export function describeQuantGemm(): string {
  return `gemm q8_0 x 7-bit activations, ${ROWS} rows x ${VECS} i32x4 sums per register block, int8 dot products`;
}

/** Phase 1: the activations to bytes q + 64 and f32 scales, per row and block of 32. */
function quantiseRows(f: Fn, plan: Plan, k: GemmKernel, xq: number, dx: number) {
  const src = at(plan, k.src);
  const x = Array.from({ length: 8 }, () => f.local(V128));
  const amax = f.local(V128), id = f.local(V128);
  const o = f.local(I32), xo = f.local(I32), d = f.local(F32);
  // o: byte offset of the block in the input (floats), xo: in xq; both run over all rows.
  f.i32(0).set(xo);
  f.for(o, 0, k.n * k.k * 4, 128, () => {
    for (let j = 0; j < 8; j++) f.v128LoadFrom(o, src + 16 * j).set(x[j]!);
    f.get(x[0]!).simd(SIMD.f32x4Abs).set(amax);
    for (let j = 1; j < 8; j++) {
      f.get(amax).get(x[j]!).simd(SIMD.f32x4Abs).simd(SIMD.f32x4Max).set(amax);
    }
    f.get(amax).f32x4ExtractLane(0).get(amax).f32x4ExtractLane(1).op(OP.f32Max)
      .get(amax).f32x4ExtractLane(2).op(OP.f32Max).get(amax).f32x4ExtractLane(3).op(OP.f32Max)
      .f32(63).op(OP.f32Div).set(d);
    // dx[block] = d (block index = xo / 32)
    f.get(xo).i32(3).op(OP.i32ShrU).get(d).f32Store(dx);
    // id = d > 0 ? 1 / d : 0 (a NaN d, from a NaN input, gives 0 here and NaN through dx)
    f.f32(1).get(d).op(OP.f32Div).f32(0).get(d).f32(0).op(OP.f32Gt).op(OP.select);
    f.simd(SIMD.f32x4Splat).set(id);
    for (let j = 0; j < 8; j++) {
      f.get(x[j]!).get(id).simd(SIMD.f32x4Mul).f32x4Const(Q_MAGIC).simd(SIMD.f32x4Add);
      f.i32x4Const([255, 255, 255, 255]).simd(SIMD.v128And).set(x[j]!);
    }
    for (let h = 0; h < 2; h++) {
      f.get(xo);
      f.get(x[4 * h]!).get(x[4 * h + 1]!).simd(SIMD.i16x8NarrowI32x4S);
      f.get(x[4 * h + 2]!).get(x[4 * h + 3]!).simd(SIMD.i16x8NarrowI32x4S);
      f.simd(SIMD.i8x16NarrowI16x8S).v128Store(xq + 16 * h);
    }
    f.inc(xo, 32);
  });
}

/**
 * The quantised gemm's function.
 *
 * @param relaxed use the relaxed-SIMD int8 dot product and FMA (else SIMD128 only)
 */
export function quantGemmFn(
  plan: Plan,
  k: GemmKernel,
  s: QuantGemmPlan,
  relaxed: boolean,
  scratchAt: number,
): Fn {
  const f = new Fn();
  const q = k.quant!;
  const xq = scratchAt, dx = scratchAt + Math.ceil((k.n * k.k) / 16) * 16;
  quantiseRows(f, plan, k, xq, dx);
  const dst = at(plan, k.dst);
  const rowOut = k.mPad * 4;
  const g = f.local(I32), rb = f.local(I32);
  const wg = f.local(I32), rg = f.local(I32), ch = f.local(I32); // group's weights, records, first output byte
  const wp = f.local(I32), rp = f.local(I32), xp = f.local(I32), dp = f.local(I32);
  const end = f.local(I32), row0 = f.local(I32);
  const sums = Array.from(
    { length: ROWS },
    () => Array.from({ length: VECS }, () => f.local(V128)),
  );
  const acc = Array.from({ length: ROWS }, () => Array.from({ length: VECS }, () => f.local(V128)));
  const ws = Array.from({ length: VECS }, () => f.local(V128));
  const xs = f.local(V128);
  const lo = f.local(V128), hi = f.local(V128), x16 = f.local(V128); // plain variant only
  const t: [number, number, number] = [f.local(V128), f.local(V128), f.local(V128)];

  /** R rows from row `row0`, V vectors of the group in wg / rg / ch. */
  const block = (R: number, V: number) => {
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) {
        if (s.bias >= 0) f.get(ch).v128Load(s.bias + v * 16);
        else f.f32x4Const(0);
        f.set(acc[r]![v]!);
      }
    }
    f.get(wg).set(wp);
    f.get(rg).set(rp);
    f.get(row0).mulConst(k.k).tee(xp).addConst(k.k).set(end);
    f.get(row0).mulConst(q.blocks * 4).set(dp);
    f.loop(() => {
      for (let r = 0; r < R; r++) {
        for (let v = 0; v < V; v++) f.v128LoadFrom(rp, (V + v) * 16).set(sums[r]![v]!);
      }
      for (let qd = 0; qd < 8; qd++) {
        for (let v = 0; v < V; v++) f.v128LoadFrom(wp, (qd * V + v) * 16).set(ws[v]!);
        for (let r = 0; r < R; r++) {
          f.get(xp).splatLoad(xq + r * k.k + 4 * qd).set(xs);
          if (!relaxed) f.get(xs).simd(SIMD.i16x8ExtendLowI8x16S).set(x16);
          for (let v = 0; v < V; v++) {
            const sum = sums[r]![v]!;
            if (relaxed) {
              f.get(ws[v]!).get(xs).get(sum).simd(SIMD.i32x4RelaxedDotI8x16I7x16AddS).set(sum);
            } else {
              f.get(ws[v]!).simd(SIMD.i16x8ExtendLowI8x16S).get(x16).simd(SIMD.i32x4DotI16x8S)
                .set(lo);
              f.get(ws[v]!).simd(SIMD.i16x8ExtendHighI8x16S).get(x16).simd(SIMD.i32x4DotI16x8S)
                .set(hi);
              f.get(lo).get(hi).i8x16Shuffle(EVEN_I32_LANES);
              f.get(lo).get(hi).i8x16Shuffle(ODD_I32_LANES).simd(SIMD.i32x4Add);
              f.get(sum).simd(SIMD.i32x4Add).set(sum);
            }
          }
        }
      }
      // end of the block: acc += f32(sum) * (d_x * d_w)
      for (let r = 0; r < R; r++) {
        f.get(dp).splatLoad(dx + r * q.blocks * 4).set(xs);
        for (let v = 0; v < V; v++) {
          const a = acc[r]![v]!;
          f.get(sums[r]![v]!).simd(SIMD.f32x4ConvertI32x4S);
          f.get(xs).v128LoadFrom(rp, v * 16).simd(SIMD.f32x4Mul);
          if (relaxed) f.get(a).simd(SIMD.f32x4RelaxedMadd);
          else f.simd(SIMD.f32x4Mul).get(a).simd(SIMD.f32x4Add);
          f.set(a);
        }
      }
      f.inc(wp, 8 * V * 16);
      f.inc(rp, 2 * V * 16);
      f.inc(dp, 4);
      f.get(xp).addConst(32).tee(xp).get(end).op(OP.i32LtS).brIf(0);
    });
    f.get(row0).mulConst(rowOut).get(ch).op(OP.i32Add).set(xp); // output address
    const block = acc.slice(0, R).map((row) => row.slice(0, V));
    storeActivated(f, block, k.activation, xp, dst, rowOut, s.gelu, t, relaxed);
  };

  const columns = (V: number) => {
    const full = Math.floor(k.n / ROWS), rest = k.n % ROWS;
    if (full > 0) {
      f.for(rb, 0, full, 1, () => {
        f.get(rb).mulConst(ROWS).set(row0);
        block(ROWS, V);
      });
    }
    if (rest) {
      f.i32(full * ROWS).set(row0);
      block(rest, V);
    }
  };
  if (s.groups > 0) {
    f.for(g, 0, s.groups, 1, () => {
      f.index(g, s.groupW, s.w).set(wg);
      f.index(g, s.groupRec, s.rec).set(rg);
      f.index(g, VECS * 16).set(ch);
      columns(VECS);
    });
  }
  if (s.tail) {
    f.i32(s.w + s.groups * s.groupW).set(wg);
    f.i32(s.rec + s.groups * s.groupRec).set(rg);
    f.i32(s.groups * VECS * 16).set(ch);
    columns(s.tail);
  }
  return f;
}

/**
 * The TS code: the same quantisation and the same integer sums (q x q, without the + 64 offset,
 * which cancels exactly), f32 steps rounded as the plain WASM variant rounds them.
 */
export function quantGemmTs(k: GemmKernel, plan: Plan, blob: WeightBlob): string {
  const q = k.quant!;
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const wq = addBytes(blob, new Uint8Array(q.q.buffer, q.q.byteOffset, q.q.byteLength));
  const wd = floatIndex(blob.add(q.d));
  const b = k.bias ? floatIndex(blob.add(k.bias)) : -1;
  const act = k.activation === "gelu"
    ? `v = 0.5 * v * (1 + Math.tanh(${Math.sqrt(2 / Math.PI)} * v * (1 + 0.044715 * v * v)));`
    : k.activation === "relu"
    ? "if (v < 0) v = 0;"
    : "";
  return `  // gemm q8_0: ${k.n} rows of ${k.k} -> ${k.m} (row stride ${k.mPad}), activations to 7 bits
  const xq = new Int8Array(${k.n * k.k}), dx = new Float32Array(${k.n * q.blocks});
  for (let blk = 0; blk < ${k.n * q.blocks}; blk++) {
    const x = ${src} + blk * 32;
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(A[x + i]));
    const d = Math.fround(amax / 63), id = d > 0 ? Math.fround(1 / d) : 0;
    dx[blk] = d;
    for (let i = 0; i < 32; i++) {
      xq[blk * 32 + i] = Math.fround(Math.fround(A[x + i] * id) + ${Q_MAGIC}) - ${Q_MAGIC};
    }
  }
  for (let n = 0; n < ${k.n}; n++) {
    for (let m = 0; m < ${k.mPad}; m++) {
      if (m >= ${k.m}) { A[${dst} + n * ${k.mPad} + m] = 0; continue; }
      let v = ${b >= 0 ? `W[${b} + m]` : "0"};
      for (let blk = 0; blk < ${q.blocks}; blk++) {
        let s = 0;
        const xo = n * ${k.k} + blk * 32, wo = ${wq} + m * ${k.k} + blk * 32;
        for (let i = 0; i < 32; i++) s += xq[xo + i] * ((U[wo + i] << 24) >> 24);
        const scale = Math.fround(dx[n * ${q.blocks} + blk] * W[${wd} + m * ${q.blocks} + blk]);
        v = Math.fround(v + Math.fround(s * scale));
      }
      ${act}
      A[${dst} + n * ${k.mPad} + m] = v;
    }
  }`;
}
