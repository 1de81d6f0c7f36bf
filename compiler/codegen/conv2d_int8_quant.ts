/**
 * The arithmetic of the int8 convolution (`--conv int8`; WASM kernel in conv2d_int8.ts), as
 * plain TypeScript: which convs qualify, the per-output-channel weight quantisation done at
 * compile time, and a scalar model of what the kernel computes, bit for bit (tests compare the
 * WASM kernel with it exactly, and with the f32 interpreter within the quantisation bound).
 *
 * Numerics, for an input x >= 0 (after a relu, or raw pixels) and f32 weights w[co][t]:
 * - activations, per tensor at run time: a = max(x) (0 if all are 0); sx = f32(a / 127);
 *   id = f32(127 / a) (0 when a = 0); qx = nearest_even(f32(x * id)), in 0..127;
 * - weights, per output channel at compile time: sw[co] = f32(max|w[co]| / 127) (1 when the
 *   channel is all zeros); qw = round_half_away(w / sw), in -127..127;
 * - acc = sum qw * qx, exact in i32 (|acc| <= 127 * 127 * taps < 2^24, so also exact in f32);
 * - y = f32(f32(acc * c[co]) + bias[co]) with c[co] = f32(sx * sw[co]); relu = max(y, 0).
 *   A fused max pool takes the max of the window's acc first: y is non-decreasing in acc
 *   (c >= 0), so max-then-scale equals scale-then-max exactly.
 *
 * Weights layout (the kernel's): per output-channel vector of 4 channels, `[ky][quad j][co 4][4
 * bytes]`, where the 4 bytes of quad j are taps r = 4j..4j+3 of the row run r = kx * cip + ci
 * (the contiguous bytes of one kernel row in the channels-last input); r >= kw * cip is 0.
 *
 * @module
 */
import type { ConvKernel } from "../plan/plan.ts";

/** Most conv positions (pool window size) a block of accumulators covers. */
export const INT8_MAX_POSITIONS = 4;
/** Most quads (4 taps) per kernel row the kernel unrolls. */
export const INT8_MAX_ROW_QUADS = 64;

/** Quads per kernel row: the row run kw * cip rounded up to 4. */
export function rowQuads(k: ConvKernel): number {
  return Math.ceil((k.kw * k.input.cp) / 4);
}

/**
 * Whether the int8 kernel covers `k`: dilation 1, a channel bias or none, no pool or a max pool
 * of at most {@link INT8_MAX_POSITIONS} positions whose windows lie inside the computed grid
 * without padding, and an input known to be >= 0.
 *
 * @param k the conv kernel
 * @param nonNegativeInput whether its input is >= 0 whenever it runs
 * @returns true when conv2d_int8.ts can compute it
 */
export function int8Eligible(k: ConvKernel, nonNegativeInput: boolean): boolean {
  if (!nonNegativeInput || k.d0 !== 1 || k.d1 !== 1 || k.bias.kind === "full") return false;
  if (rowQuads(k) > INT8_MAX_ROW_QUADS) return false;
  const p = k.pool;
  if (!p) return true;
  return p.pool === "max" && p.p0 === 0 && p.p1 === 0 && p.k0 * p.k1 <= INT8_MAX_POSITIONS &&
    (k.output.w - 1) * p.s0 + p.k0 <= k.computeW && (k.output.h - 1) * p.s1 + p.k1 <= k.computeH;
}

/** Quantised conv weights. */
export interface Int8ConvWeights {
  /** Row quads per kernel row ({@link rowQuads}). */
  readonly nq: number;
  /** `q[co][ky][r]`, r < 4 nq (the run kx * cip + ci, zero-padded). */
  readonly q: Int8Array;
  /** Per output channel scale (cop entries; padded channels 1, their weights 0). */
  readonly sw: Float32Array;
}

/**
 * Quantises a conv's weights per output channel (symmetric, -127..127).
 *
 * @param k the conv kernel (weights `[ky][kx][ci][co]`)
 * @returns the int8 weights `[co][ky][r]` and the scales
 */
export function quantizeConvWeights(k: ConvKernel): Int8ConvWeights {
  const cip = k.input.cp, cop = k.output.cp, nq = rowQuads(k), R = 4 * nq;
  const q = new Int8Array(cop * k.kh * R);
  const sw = new Float32Array(cop);
  const wAt = (ky: number, r: number, co: number) => k.weights[co + cop * (r + cip * k.kw * ky)]!;
  for (let co = 0; co < cop; co++) {
    let amax = 0;
    for (let ky = 0; ky < k.kh; ky++) {
      for (let r = 0; r < k.kw * cip; r++) amax = Math.max(amax, Math.abs(wAt(ky, r, co)));
    }
    const s = amax > 0 ? Math.fround(amax / 127) : 1;
    sw[co] = s;
    for (let ky = 0; ky < k.kh; ky++) {
      for (let r = 0; r < k.kw * cip; r++) {
        const v = wAt(ky, r, co) / s;
        q[(co * k.kh + ky) * R + r] = Math.max(
          -127,
          Math.min(127, Math.sign(v) * Math.round(Math.abs(v))),
        );
      }
    }
  }
  return { nq, q, sw };
}

/** Round half to even, as `f32x4.nearest`. */
export function nearestEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-tensor activation quantisation, as the kernel's prologue does it.
 *
 * @param x the input values (>= 0)
 * @returns the int8 values (0..127) and the scale sx
 */
export function quantizeActivations(x: Float32Array): { q: Uint8Array; sx: number } {
  let a = 0;
  for (const v of x) a = Math.max(a, v);
  const sx = Math.fround(a / 127);
  const id = a > 0 ? Math.fround(127 / a) : 0;
  const q = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    // trunc_sat to i32, then the saturating narrows to i16 and to u8.
    q[i] = Math.max(0, Math.min(255, nearestEven(Math.fround(x[i]! * id))));
  }
  return { q, sx };
}

/**
 * What the int8 kernel computes for `k`, in scalar code (channels-last in and out).
 *
 * @param k an eligible conv kernel
 * @param input the input image (`k.input` layout)
 * @returns the output image (`k.output` layout)
 */
export function int8ConvReference(k: ConvKernel, input: Float32Array): Float32Array {
  const I = k.input, O = k.output, cip = I.cp, cop = O.cp;
  const { q: qw, sw, nq } = quantizeConvWeights(k);
  const { q: qx, sx } = quantizeActivations(input);
  const R = 4 * nq;
  const xAt = (x: number, y: number, r: number) => {
    // Run position r of the padded row at conv-grid origin (x, y); zero outside the image.
    const px = x + Math.floor(r / cip) - k.p0, ci = r % cip;
    if (r >= k.kw * cip || px < 0 || px >= I.w || y < 0 || y >= I.h) return 0;
    return qx[ci + cip * (px + I.w * y)]!;
  };
  const out = new Float32Array(O.w * O.h * cop);
  const p = k.pool ?? { k0: 1, k1: 1, s0: 1, s1: 1 };
  for (let oy = 0; oy < O.h; oy++) {
    for (let ox = 0; ox < O.w; ox++) {
      for (let co = 0; co < cop; co++) {
        let m = -Infinity;
        for (let wy = 0; wy < p.k1; wy++) {
          for (let wx = 0; wx < p.k0; wx++) {
            const cx = ox * p.s0 + wx, cy = oy * p.s1 + wy;
            let acc = 0;
            for (let ky = 0; ky < k.kh; ky++) {
              const iy = cy * k.s1 + ky - k.p1;
              for (let r = 0; r < R; r++) {
                acc += qw[(co * k.kh + ky) * R + r]! * xAt(cx * k.s0, iy, r);
              }
            }
            m = Math.max(m, acc);
          }
        }
        const c = Math.fround(sx * sw[co]!);
        const b = k.bias.kind === "channel" ? k.bias.values[co]! : 0;
        let y = Math.fround(Math.fround(m * c) + b);
        if (k.relu) y = Math.max(y, 0);
        out[co + cop * (ox + O.w * oy)] = y;
      }
    }
  }
  return out;
}
