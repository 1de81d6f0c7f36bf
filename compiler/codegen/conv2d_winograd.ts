/**
 * Winograd F(2x2, 3x3) for the WASM backend: a 3x3 stride-1 convolution followed by a 2x2/2
 * pool is computed one pool window (a 2x2 output tile) at a time with 16 multiplies per input
 * channel and output channel instead of 36 (2.25x fewer multiply-adds; Lavin & Gray 2015):
 *
 *   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
 *
 * with d the 4x4 input tile, g the 3x3 kernel. `G g G^T` (U) is computed at compile time (in
 * f64, stored as f32). At run time, per group of T tiles:
 * 1. input transform V = B^T d B, SIMD across 4 input channels, into a scratch area;
 * 2. for each of the 16 tile positions xi, a small GEMM M[t][xi][co] = sum_ci V[t][xi][ci] *
 *    U[xi][ci][co], register-blocked as T tiles x 2 output-channel vectors (the U vector loaded
 *    once feeds T tiles; a short last group takes more channel vectors instead, so it still
 *    keeps 8 independent accumulators);
 * 3. output transform Y = A^T M A, + bias, pool (max or avg over the 4 outputs), relu, store.
 *
 * The transforms only add and subtract (and the 1/2 of G, exact in binary), so the result
 * differs from the direct convolution by float rounding only.
 *
 * @module
 */
import type { ConvKernel, Plan } from "../plan/plan.ts";
import { Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import { madd } from "./wasm_shared.ts";

/** Tiles blocked together in the GEMM (x 2 channel vectors = 8 accumulators). */
const T = 4;

/** True when `k` is a 3x3 stride-1 conv with a fused 2x2/2 unpadded pool worth transforming. */
export function winogradEligible(k: ConvKernel): boolean {
  const p = k.pool;
  return k.kw === 3 && k.kh === 3 && k.s0 === 1 && k.s1 === 1 && k.d0 === 1 && k.d1 === 1 &&
    p !== undefined && p.k0 === 2 && p.k1 === 2 && p.s0 === 2 && p.s1 === 2 && p.p0 === 0 &&
    p.p1 === 0 && k.bias.kind !== "full" && k.input.cp >= 8 && k.output.cp % 8 === 0 &&
    2 * k.output.w <= k.computeW && 2 * k.output.h <= k.computeH;
}

/** Scratch bytes the kernel needs: transformed inputs and GEMM results of T tiles. */
export function winogradScratchBytes(k: ConvKernel): number {
  return T * 16 * (k.input.cp + k.output.cp) * 4;
}

/**
 * U = G g G^T for every (ci, co), laid out [xi][co block of 8][ci][8] so the GEMM streams it.
 *
 * @param k the kernel (weights [ky][kx][ci][co])
 * @returns the packed transformed weights
 */
export function packWinograd(k: ConvKernel): Float32Array {
  const CIP = k.input.cp, COP = k.output.cp;
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
  const out = new Float32Array(16 * CIP * COP);
  const g = (ky: number, kx: number, ci: number, co: number) =>
    k.weights[co + COP * (ci + CIP * (kx + 3 * ky))]!;
  for (let ci = 0; ci < CIP; ci++) {
    for (let co = 0; co < COP; co++) {
      // Gg (4x3), then (Gg) G^T (4x4).
      const gg: number[][] = G.map((row) =>
        [0, 1, 2].map((kx) => row.reduce((s, gv, ky) => s + gv * g(ky, kx, ci, co), 0))
      );
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const u = gg[i]!.reduce((s, v, kx) => s + v * G[j]![kx]!, 0);
          const xi = 4 * i + j, cb = Math.floor(co / 8);
          out[((xi * (COP / 8) + cb) * CIP + ci) * 8 + (co % 8)] = u;
        }
      }
    }
  }
  return out;
}

/**
 * Emits the kernel.
 *
 * @param plan the plan (buffer offsets)
 * @param k the conv kernel
 * @param src byte address of the (zero-padded) input
 * @param srcW its width in pixels
 * @param u byte address of the packed U
 * @param bias byte address of the channel bias, -1 for none
 * @param scratch byte address of the scratch area
 * @param fma use relaxed_madd
 * @returns the function
 */
export function winogradFn(
  plan: Plan,
  k: ConvKernel,
  src: number,
  srcW: number,
  u: number,
  bias: number,
  scratch: number,
  fma: boolean,
  f: Fn = new Fn(),
): Fn {
  const CIP = k.input.cp, COP = k.output.cp, O = k.output;
  const dst = plan.buffers[k.dst]!.offset;
  const VS = scratch, MS = scratch + T * 16 * CIP * 4;
  const tiles = O.w * O.h;
  const ti = f.local(I32), c = f.local(I32), xi = f.local(I32), cb = f.local(I32);
  const ci = f.local(I32), ua = f.local(I32), va = f.local(I32);
  const ib = Array.from({ length: T }, () => f.local(I32));
  const ob = Array.from({ length: T }, () => f.local(I32));
  const R = Array.from({ length: 16 }, () => f.local(V128));
  const acc = Array.from({ length: T * 2 }, () => f.local(V128));
  const xs = Array.from({ length: T }, () => f.local(V128));
  const ws = Array.from({ length: 8 }, () => f.local(V128));
  const y = Array.from({ length: 4 }, () => f.local(V128));
  const rowBytes = srcW * CIP * 4;
  const pool = k.pool!;

  /** Code for a group of `n` tiles starting at tile index `ti`. */
  const group = (n: number) => {
    // Addresses of each tile's input (top-left of its 4x4 patch) and output pixel.
    for (let j = 0; j < n; j++) {
      // oy = (ti + j) / OW, ox = (ti + j) % OW
      f.get(ti).addConst(j).i32(O.w).op(OP.i32DivU).mulConst(2 * rowBytes);
      f.get(ti).addConst(j).i32(O.w).op(OP.i32RemU).mulConst(2 * CIP * 4);
      f.op(OP.i32Add).addConst(src).set(ib[j]!);
      f.get(ti).addConst(j).mulConst(COP * 4).addConst(dst).set(ob[j]!);
    }
    // 1. V = B^T d B per tile, 4 input channels at a time.
    for (let j = 0; j < n; j++) {
      f.for(c, 0, CIP * 4, 16, () => {
        for (let col = 0; col < 4; col++) {
          const at = (row: number) =>
            f.get(ib[j]!).get(c).op(OP.i32Add).v128Load(row * rowBytes + col * CIP * 4);
          // rows of B^T d: d0 - d2, d1 + d2, d2 - d1, d1 - d3
          at(0), at(2), f.simd(SIMD.f32x4Sub).set(R[col]!);
          at(1), at(2), f.simd(SIMD.f32x4Add).set(R[4 + col]!);
          at(2), at(1), f.simd(SIMD.f32x4Sub).set(R[8 + col]!);
          at(1), at(3), f.simd(SIMD.f32x4Sub).set(R[12 + col]!);
        }
        for (let row = 0; row < 4; row++) {
          const r = (col: number) => R[4 * row + col]!;
          const store = (jj: number, a: number, b: number, op: number) => {
            f.get(c).get(r(a)).get(r(b)).simd(op).v128Store(VS + (j * 16 + 4 * row + jj) * CIP * 4);
          };
          store(0, 0, 2, SIMD.f32x4Sub);
          store(1, 1, 2, SIMD.f32x4Add);
          store(2, 2, 1, SIMD.f32x4Sub);
          store(3, 1, 3, SIMD.f32x4Sub);
        }
      });
    }
    // 2. M[j][xi][co] = sum_ci V[j][xi][ci] * U[xi][ci][co], blocked as n tiles x V channel
    //    vectors (V = 2 for a full group; more for a short last group, to keep 8 accumulators).
    let V = 2 * Math.floor(T / n);
    while ((COP / 4) % V !== 0) V /= 2;
    const groups = COP / 4 / V; // channel blocks of V vectors; U blocks hold 2 vectors (8 channels)
    f.for(xi, 0, 16, 1, () => {
      f.for(cb, 0, groups, 1, () => {
        for (let a = 0; a < n * V; a++) f.f32x4Const(0).set(acc[a]!);
        // U block address and V address for this xi.
        f.index(xi, COP / 8).index(cb, V / 2).op(OP.i32Add)
          .mulConst(CIP * 32).addConst(u).set(ua);
        f.index(xi, CIP * 4, VS).set(va);
        f.for(ci, 0, CIP, 4, () => {
          for (let q = 0; q < 4; q++) {
            for (let j = 0; j < n; j++) f.get(va).splatLoad(j * 16 * CIP * 4 + q * 4).set(xs[j]!);
            for (let v = 0; v < V; v++) {
              f.v128LoadFrom(ua, (v >> 1) * CIP * 32 + q * 32 + (v & 1) * 16).set(ws[v]!);
            }
            for (let j = 0; j < n; j++) {
              for (let v = 0; v < V; v++) madd(f, acc[V * j + v]!, xs[j]!, ws[v]!, fma);
            }
          }
          f.inc(va, 16);
          f.inc(ua, 128);
        });
        for (let j = 0; j < n; j++) {
          for (let v = 0; v < V; v++) {
            f.index(xi, COP * 4).index(cb, V * 16).op(OP.i32Add)
              .get(acc[V * j + v]!).v128Store(MS + j * 16 * COP * 4 + v * 16);
          }
        }
      });
    });
    // 3. Y = A^T M A, + bias, pool, relu, store.
    for (let j = 0; j < n; j++) {
      f.for(c, 0, COP * 4, 16, () => {
        const m = (xi: number) => f.v128LoadFrom(c, MS + (j * 16 + xi) * COP * 4);
        // s0 = M0 + M1 + M2 (rows), s1 = M1 - M2 - M3, per column into R[0..3], R[4..7]
        for (let col = 0; col < 4; col++) {
          m(col), m(4 + col), f.simd(SIMD.f32x4Add), m(8 + col), f.simd(SIMD.f32x4Add).set(R[col]!);
          m(4 + col),
            m(8 + col),
            f.simd(SIMD.f32x4Sub),
            m(12 + col),
            f.simd(SIMD.f32x4Sub).set(R[4 + col]!);
        }
        for (let row = 0; row < 2; row++) {
          const r = (col: number) => f.get(R[4 * row + col]!);
          r(0), r(1), f.simd(SIMD.f32x4Add), r(2), f.simd(SIMD.f32x4Add).set(y[2 * row]!);
          r(1), r(2), f.simd(SIMD.f32x4Sub), r(3), f.simd(SIMD.f32x4Sub).set(y[2 * row + 1]!);
        }
        for (let q = 0; q < 4; q++) {
          if (bias >= 0) f.get(y[q]!).v128LoadFrom(c, bias).simd(SIMD.f32x4Add).set(y[q]!);
          if (pool.pool === "avg" && k.relu) {
            f.get(y[q]!).f32x4Const(0).simd(SIMD.f32x4Max).set(y[q]!);
          }
        }
        f.get(ob[j]!).get(c).op(OP.i32Add);
        const combine = pool.pool === "max" ? SIMD.f32x4Max : SIMD.f32x4Add;
        f.get(y[0]!).get(y[1]!).simd(combine).get(y[2]!).simd(combine).get(y[3]!).simd(combine);
        if (pool.pool === "avg") f.f32x4Const(4).simd(SIMD.f32x4Div);
        else if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
        f.v128Store(0);
      });
    }
  };

  const full = Math.floor(tiles / T), rest = tiles % T;
  if (full > 0) {
    f.for(ti, 0, full * T, T, () => group(T));
  }
  if (rest > 0) {
    f.i32(full * T).set(ti);
    group(rest);
  }
  return f;
}
