/**
 * int8 convolution for the WASM backend (`--conv int8`), arithmetic as conv2d_int8_quant.ts
 * states it. One call:
 * 1. prologue: a = max of the f32 input (SIMD, then scalar tail); each value x becomes
 *    nearest(x * 127 / a) as a byte (0..127) in scratch, 16 values per step (the last step may
 *    read up to 15 floats past the input and writes the bytes into slack); a padded conv then
 *    copies the rows into a zeroed padded area, so the inner loop never tests bounds;
 *    c[co] = sx * sw[co] for the epilogue.
 * 2. per block of P conv positions (a max-pool window, or 1) x V output-channel vectors: for each
 *    kernel row ky and quad j of its run (kw * cip contiguous bytes), one `v128.load32_splat` of
 *    4 input bytes per position and one 16-byte weight vector (4 channels x 4 taps) per V, then
 *    - relaxed variant: `i32x4.relaxed_dot_i8x16_i7x16_add_s(w, x, acc)`: the input bytes are
 *      0..127, the "i7" operand, so every engine gives the exact sum (16 multiply-adds);
 *    - plain SIMD128: `i16x8.extend_{low,high}_i8x16_s` of both, two `i32x4.dot_i16x8_s` into
 *      a low and a high accumulator (pairs of taps per lane), folded at the end with two
 *      shuffles and an add.
 *    Both give the same i32 sums, so the two variants agree bit for bit.
 * 3. epilogue: i32 max over the window's positions, convert, * c[co], + bias, relu, store f32.
 *
 * Scratch (at the shared kernel scratch area): c[cop] f32 | padded int8 input + 16 slack |
 * unpadded int8 input + 16 slack (only when the conv pads).
 *
 * @module
 */
import { F32, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import type { ConvKernel, Plan } from "../plan/plan.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { addBytes } from "./dense_quant_wasm.ts";
import { at } from "./wasm_shared.ts";
import { quantizeConvWeights } from "./conv2d_int8_quant.ts";

/** A conv's int8 strategy, shared by both variants. */
export interface Int8ConvPlan {
  /** Byte addresses of the packed weights, the per-channel scales and the bias (-1: none). */
  readonly w: number;
  readonly sw: number;
  readonly bias: number;
  /** Quads per kernel row. */
  readonly nq: number;
}

/**
 * Most i32x4 accumulators live at once (x64 has 16 vector registers; 12 accumulators plus their
 * operands spill and were 1.5x slower on the seed CNN's conv2).
 */
const MAX_ACC = 8;

/** Byte sizes of the scratch parts (see the module comment). */
function scratchParts(k: ConvKernel): { scales: number; padded: number; temp: number } {
  const a16 = (n: number) => Math.ceil(n / 16) * 16;
  const I = k.input;
  const pads = k.p0 > 0 || k.p1 > 0;
  const n = I.w * I.h * I.cp;
  return {
    scales: a16(k.output.cp * 4),
    padded: a16((I.w + 2 * k.p0) * (I.h + 2 * k.p1) * I.cp + (pads ? 16 : n % 16 ? 32 : 16)),
    temp: pads ? a16(n) + 32 : 0,
  };
}

/** Bytes of kernel scratch the int8 conv needs. */
export function int8ScratchBytes(k: ConvKernel): number {
  const s = scratchParts(k);
  return s.scales + s.padded + s.temp;
}

/**
 * Quantises the weights and appends them (layout in conv2d_int8_quant.ts), their scales and the
 * bias to the blob.
 */
export function prepareInt8(k: ConvKernel, blob: WeightBlob, base: number): Int8ConvPlan {
  const { q, sw, nq } = quantizeConvWeights(k);
  const cop = k.output.cp, R = 4 * nq;
  // q[co][ky][r] -> [co vector][ky][j][co 4][4 taps]
  const packed = new Uint8Array(q.length);
  let o = 0;
  for (let cv = 0; cv < cop / 4; cv++) {
    for (let ky = 0; ky < k.kh; ky++) {
      for (let j = 0; j < nq; j++) {
        for (let c = 0; c < 4; c++) {
          for (let t = 0; t < 4; t++) packed[o++] = q[((4 * cv + c) * k.kh + ky) * R + 4 * j + t]!;
        }
      }
    }
  }
  const w = base + addBytes(blob, packed);
  const swAt = base + blob.add(sw);
  const bias = k.bias.kind === "channel" ? base + blob.add(k.bias.values) : -1;
  return { w, sw: swAt, bias, nq };
}

/** Byte indices of i32 lanes 0, 2, 4, 6 (and 1, 3, 5, 7) of two concatenated vectors. */
const EVEN_I32_LANES = [0, 2, 4, 6].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));
const ODD_I32_LANES = [1, 3, 5, 7].flatMap((l) => [0, 1, 2, 3].map((b) => 4 * l + b));

/**
 * The kernel function.
 *
 * @param plan the placed plan
 * @param k the conv kernel (eligible: conv2d_int8_quant.ts int8Eligible)
 * @param s its plan from {@link prepareInt8}
 * @param relaxed relaxed-SIMD int8 dot (else extend + i32x4.dot_i16x8_s)
 * @param scratchAt byte address of the shared kernel scratch area
 * @returns the function
 */
export function int8ConvFn(
  plan: Plan,
  k: ConvKernel,
  s: Int8ConvPlan,
  relaxed: boolean,
  scratchAt: number,
): Fn {
  const f = new Fn();
  const I = k.input, O = k.output, cip = I.cp, cop = O.cp;
  const parts = scratchParts(k);
  const SC = scratchAt, Q = SC + parts.scales, T = Q + parts.padded;
  const pads = k.p0 > 0 || k.p1 > 0;
  const IWp = I.w + 2 * k.p0, IHp = I.h + 2 * k.p1;
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const n = I.w * I.h * cip;

  // 1. a = max(x), sx = a / 127, id = 127 / a (0 when a = 0).
  const i = f.local(I32), mv = f.local(V128), a = f.local(F32), sx = f.local(F32);
  const idv = f.local(V128);
  f.f32x4Const(0).set(mv);
  if (n >= 4) {
    f.for(i, 0, Math.floor(n / 4) * 16, 16, () => {
      f.get(mv).v128LoadFrom(i, src).simd(SIMD.f32x4Max).set(mv);
    });
  }
  f.get(mv).f32x4ExtractLane(0).get(mv).f32x4ExtractLane(1).op(OP.f32Max)
    .get(mv).f32x4ExtractLane(2).op(OP.f32Max).get(mv).f32x4ExtractLane(3).op(OP.f32Max).set(a);
  for (let t = Math.floor(n / 4) * 4; t < n; t++) {
    f.get(a).i32(0).f32Load(src + 4 * t).op(OP.f32Max).set(a);
  }
  f.get(a).f32(127).op(OP.f32Div).set(sx);
  f.f32(127).get(a).op(OP.f32Div).f32(0).get(a).f32(0).op(OP.f32Gt).op(OP.select);
  f.simd(SIMD.f32x4Splat).set(idv);
  // q = nearest(x * id) as bytes, 16 per step, into Q (T when the conv pads).
  const r = Array.from({ length: 4 }, () => f.local(V128));
  const qAt = pads ? T : Q;
  f.for(i, 0, Math.ceil(n / 16) * 16, 16, () => {
    for (let j = 0; j < 4; j++) {
      f.get(i).i32(2).op(OP.i32Shl).v128Load(src + 16 * j).get(idv).simd(SIMD.f32x4Mul)
        .simd(SIMD.f32x4Nearest).simd(SIMD.i32x4TruncSatF32x4S).set(r[j]!);
    }
    f.get(i);
    f.get(r[0]!).get(r[1]!).simd(SIMD.i16x8NarrowI32x4S);
    f.get(r[2]!).get(r[3]!).simd(SIMD.i16x8NarrowI32x4S);
    f.simd(SIMD.i8x16NarrowI16x8U).v128Store(qAt);
  });
  if (pads) {
    f.i32(Q).i32(0).i32(IWp * IHp * cip + 16).memoryFill();
    const y = f.local(I32);
    f.for(y, 0, I.h, 1, () => {
      f.index(y, IWp * cip, Q + (k.p1 * IWp + k.p0) * cip);
      f.index(y, I.w * cip, T);
      f.i32(I.w * cip).memoryCopy();
    });
  }
  // c[co] = sx * sw[co]
  const sxv = f.local(V128);
  f.get(sx).simd(SIMD.f32x4Splat).set(sxv);
  for (let v = 0; v < cop / 4; v++) {
    f.i32(0).v128Load(s.sw + 16 * v).get(sxv).simd(SIMD.f32x4Mul).set(r[0]!);
    f.i32(0).get(r[0]!).v128Store(SC + 16 * v);
  }

  // 2. Blocks of P positions x V channel vectors.
  const pool = k.pool;
  const positions: [number, number][] = [];
  if (pool) {
    for (let wy = 0; wy < pool.k1; wy++) {
      for (let wx = 0; wx < pool.k0; wx++) positions.push([wx, wy]);
    }
  } else positions.push([0, 0]);
  const P = positions.length;
  const ps0 = pool ? pool.s0 : 1, ps1 = pool ? pool.s1 : 1;
  const vecs = cop / 4;
  const V = Math.max(1, Math.min(vecs, Math.floor(MAX_ACC / (relaxed ? P : 2 * P))));
  const blocks = Math.floor(vecs / V), tail = vecs % V;
  const rowB = IWp * cip; // bytes per padded input row
  const VB = k.kh * s.nq * 16; // weight bytes per channel vector
  const steps = k.kh * s.nq;

  const oy = f.local(I32), ox = f.local(I32), ip = f.local(I32), op = f.local(I32);
  const wb = f.local(I32), ch = f.local(I32), kyl = f.local(I32), ipr = f.local(I32);
  const wbr = f.local(I32);
  const maxV = Math.max(V, tail);
  const xs = f.local(V128);
  const ws = Array.from({ length: maxV }, () => f.local(V128));
  const wh = relaxed ? [] : Array.from({ length: maxV }, () => f.local(V128));
  const A = positions.map(() => Array.from({ length: maxV }, () => f.local(V128)));
  const B = relaxed ? [] : positions.map(() => Array.from({ length: maxV }, () => f.local(V128)));
  const m = f.local(V128);

  /** One (ky, j) step with input pointer `ipL` + `iOff` and weight pointer `wL` + `wOff`. */
  const step = (nv: number, ipL: number, iOff: number, wL: number, wOff: number) => {
    for (let v = 0; v < nv; v++) {
      f.v128LoadFrom(wL, wOff + v * VB).set(ws[v]!);
      if (!relaxed) {
        f.get(ws[v]!).simd(SIMD.i16x8ExtendHighI8x16S).set(wh[v]!);
        f.get(ws[v]!).simd(SIMD.i16x8ExtendLowI8x16S).set(ws[v]!);
      }
    }
    positions.forEach(([wx, wy], p) => {
      const posOff = (wy * k.s1 * IWp + wx * k.s0) * cip;
      f.get(ipL).splatLoad(iOff + posOff);
      if (!relaxed) f.simd(SIMD.i16x8ExtendLowI8x16S);
      f.set(xs);
      for (let v = 0; v < nv; v++) {
        if (relaxed) {
          f.get(ws[v]!).get(xs).get(A[p]![v]!).simd(SIMD.i32x4RelaxedDotI8x16I7x16AddS)
            .set(A[p]![v]!);
        } else {
          f.get(A[p]![v]!).get(ws[v]!).get(xs).simd(SIMD.i32x4DotI16x8S).simd(SIMD.i32x4Add)
            .set(A[p]![v]!);
          f.get(B[p]![v]!).get(wh[v]!).get(xs).simd(SIMD.i32x4DotI16x8S).simd(SIMD.i32x4Add)
            .set(B[p]![v]!);
        }
      }
    });
  };

  const block = (nv: number) => {
    f.for(oy, 0, O.h, 1, () => {
      f.for(ox, 0, O.w, 1, () => {
        f.get(ox).index(oy, O.w).op(OP.i32Add).mulConst(cop * 4).get(ch).op(OP.i32Add)
          .addConst(dst).set(op);
        f.index(oy, ps1 * k.s1 * rowB).index(ox, ps0 * k.s0 * cip).op(OP.i32Add).addConst(Q)
          .set(ip);
        for (let p = 0; p < P; p++) {
          for (let v = 0; v < nv; v++) {
            f.i32x4Const([0, 0, 0, 0]).set(A[p]![v]!);
            if (!relaxed) f.i32x4Const([0, 0, 0, 0]).set(B[p]![v]!);
          }
        }
        if (steps <= 96) {
          for (let ky = 0; ky < k.kh; ky++) {
            for (let j = 0; j < s.nq; j++) {
              step(nv, ip, ky * rowB + 4 * j, wb, (ky * s.nq + j) * 16);
            }
          }
        } else {
          // Runtime loop over kernel rows, the row's quads unrolled.
          f.get(ip).set(ipr);
          f.get(wb).set(wbr);
          f.for(kyl, 0, k.kh, 1, () => {
            for (let j = 0; j < s.nq; j++) step(nv, ipr, 4 * j, wbr, j * 16);
            f.inc(ipr, rowB);
            f.inc(wbr, s.nq * 16);
          });
        }
        // 3. Epilogue per channel vector.
        for (let v = 0; v < nv; v++) {
          for (let p = 0; p < P; p++) {
            if (relaxed) f.get(A[p]![v]!);
            else {
              f.get(A[p]![v]!).get(B[p]![v]!).i8x16Shuffle(EVEN_I32_LANES);
              f.get(A[p]![v]!).get(B[p]![v]!).i8x16Shuffle(ODD_I32_LANES);
              f.simd(SIMD.i32x4Add);
            }
            if (p > 0) f.get(m).simd(SIMD.i32x4MaxS);
            f.set(m);
          }
          f.get(op);
          f.get(m).simd(SIMD.f32x4ConvertI32x4S).get(ch).v128Load(SC + 16 * v).simd(SIMD.f32x4Mul);
          if (s.bias >= 0) f.get(ch).v128Load(s.bias + 16 * v).simd(SIMD.f32x4Add);
          if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
          f.v128Store(16 * v);
        }
      });
    });
  };

  if (blocks > 0) {
    const g = f.local(I32);
    f.for(g, 0, blocks, 1, () => {
      f.index(g, V * 16).set(ch);
      f.index(g, V * VB, s.w).set(wb);
      block(V);
    });
  }
  if (tail) {
    f.i32(blocks * V * 16).set(ch);
    f.i32(s.w + blocks * V * VB).set(wb);
    block(tail);
  }
  return f;
}

/** One line for `--plan` notes. */
export function describeInt8(k: ConvKernel, s: Int8ConvPlan): string {
  return `int8 direct convolution (input quantised per tensor, weights per channel; relaxed ` +
    `i8x16.i7x16 dot or i32x4.dot_i16x8_s), ${k.kh} rows x ${s.nq} quads per position`;
}
