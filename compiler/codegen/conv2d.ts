/**
 * Code for `conv2d` calls (convolution + bias + relu + pool, channels-last), both targets.
 *
 * WASM: register-blocked over P conv positions (the pool window's, when they can be computed
 * together) x V output-channel vectors, P*V <= 8 f32x4 accumulators. Each tap loads one
 * broadcast input value per position and one weight vector per V, so a weight load feeds P
 * multiply-adds. Padding is handled once per call by copying the input into a zeroed staging
 * buffer, so the inner loops never test bounds. Weights are re-blocked per channel group
 * ([group][ky][kx][ci][V*4]) so the inner loop streams them contiguously. A 3x3 stride-1 conv
 * followed by a 2x2/2 pool uses Winograd F(2x2,3x3) instead (conv2d_winograd.ts). With
 * `--conv int8`, convs whose input is >= 0 run as int8 dot products instead (conv2d_int8.ts), in
 * the module variants the WasmContext names.
 *
 * TS: the same loops without SIMD, one output pixel (all channels) at a time in `ACC`.
 *
 * @module
 */
import { Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import { CompileError, type ConvKernel, type Plan } from "../plan/plan.ts";
import {
  floatIndex,
  FLT_MAX,
  FLT_MAX_TEXT,
  type KernelCodegen,
  MAX_ACC,
  type WasmContext,
} from "./kernel_codegen.ts";
import type { WeightBlob } from "./weights_blob.ts";
import { at, madd } from "./wasm_shared.ts";
import {
  packWinograd,
  winogradEligible,
  winogradFn,
  winogradScratchBytes,
} from "./conv2d_winograd.ts";
import {
  describeInt8,
  int8ConvFn,
  type Int8ConvPlan,
  int8ScratchBytes,
  prepareInt8,
} from "./conv2d_int8.ts";
import { int8Eligible } from "./conv2d_int8_quant.ts";
import { nonNegative } from "../plan/quantize_weights.ts";

/** The conv2d family's code generators. */
export const conv2dCodegen: KernelCodegen<ConvKernel, ConvPlan> = {
  kind: "conv2d",
  wasm: {
    scratchBytes(k, ctx) {
      const i8 = int8Variants(k, ctx);
      return Math.max(
        i8.relaxed || i8.plain ? int8ScratchBytes(k) : 0,
        !(i8.relaxed && i8.plain) && useWinograd(k, ctx) ? winogradScratchBytes(k) : 0,
      );
    },
    prepare(k, blob, base, ctx) {
      const i8 = int8Variants(k, ctx);
      const int8 = i8.relaxed || i8.plain ? { ...prepareInt8(k, blob, base), ...i8 } : undefined;
      // The f32 strategy only when a variant uses it (its packed weights are the larger part).
      const f32 = i8.relaxed && i8.plain
        ? UNUSED_F32
        : prepareConv(k, blob, base, useWinograd(k, ctx));
      return int8 ? { ...f32, int8 } : f32;
    },
    fn: (k, s, fma, ctx) =>
      s.int8 && (fma ? s.int8.relaxed : s.int8.plain)
        ? int8ConvFn(ctx.plan, k, s.int8, fma, ctx.scratchAt)
        : convFn(ctx.plan, k, s, fma, ctx.scratchAt),
    describe(k, s) {
      const f32 = s.winograd
        ? "Winograd F(2x2,3x3), 4 tiles x 2 channel vectors per GEMM block"
        : `direct convolution, ${s.P} position(s) x ${s.V} channel vectors per block (${s.mode})`;
      if (!s.int8) return f32;
      const i8 = describeInt8(k, s.int8);
      if (s.int8.relaxed && s.int8.plain) return i8;
      return s.int8.relaxed
        ? `${i8} (relaxed variant); ${f32} (plain)`
        : `${f32} (relaxed); ${i8} (plain)`;
    },
  },
  ts: {
    accFloats: (k) => k.output.cp,
    source: convTs,
    describe: () => "direct convolution",
  },
};

function useWinograd(k: ConvKernel, ctx: Pick<WasmContext, "winograd">): boolean {
  return ctx.winograd && winogradEligible(k);
}

/** Which variants compute `k` in int8: the ones `--conv` asks for, when the kernel qualifies. */
function int8Variants(
  k: ConvKernel,
  ctx: Pick<WasmContext, "plan" | "int8Conv">,
): { relaxed: boolean; plain: boolean } {
  const { relaxed, plain } = ctx.int8Conv;
  if (!relaxed && !plain) return { relaxed: false, plain: false };
  const ok = int8Eligible(k, nonNegative(ctx.plan, k.src, ctx.plan.kernels.indexOf(k)));
  return { relaxed: relaxed && ok, plain: plain && ok };
}

/** A conv kernel's WASM strategy, decided once and shared by both variants. */
interface ConvPlan {
  /** Conv positions blocked together (window positions); 1 when checks are needed. */
  readonly P: number;
  /** Output-channel vectors per block. */
  readonly V: number;
  /** Full blocks of V vectors, then one block of `tail` vectors (0: none). */
  readonly blocks: number;
  readonly tail: number;
  /** Pool combined in registers (whole window in one block) or through memory. */
  readonly mode: "direct" | "register" | "memory";
  /** Winograd F(2x2,3x3) instead of the direct convolution (see conv2d_winograd.ts). */
  readonly winograd: boolean;
  /** Byte address of the packed weights, and of the bias. */
  readonly w: number;
  readonly bias: number;
  /** The int8 strategy and the variants that use it (conv2d_int8.ts), when any does. */
  readonly int8?: Int8ConvPlan & { readonly relaxed: boolean; readonly plain: boolean };
}

/** The f32 strategy of a conv that every variant computes in int8 (nothing packed). */
const UNUSED_F32: ConvPlan = {
  P: 1,
  V: 1,
  blocks: 0,
  tail: 0,
  mode: "direct",
  winograd: false,
  w: -1,
  bias: -1,
};

/** Packs a conv's weights in the WASM layout and decides its blocking. */
function prepareConv(k: ConvKernel, blob: WeightBlob, base: number, winograd: boolean): ConvPlan {
  if (winograd) {
    const bias = k.bias.kind === "channel" ? base + blob.add(k.bias.values) : -1;
    const w = base + blob.add(packWinograd(k));
    return { P: 4, V: 2, blocks: 0, tail: 0, mode: "register", w, bias, winograd: true };
  }
  const name = k.nodes[0] ?? "conv";
  if (k.d0 !== 1 || k.d1 !== 1) {
    throw new CompileError(
      name,
      "dilation other than 1 is not supported by the wasm backend (use --target ts)",
    );
  }
  const vecs = k.output.cp / 4;
  let P = 1;
  let mode: ConvPlan["mode"] = "direct";
  if (k.pool) {
    const p = k.pool;
    const inside = p.p0 === 0 && p.p1 === 0 &&
      (k.output.w - 1) * p.s0 + p.k0 <= k.computeW && (k.output.h - 1) * p.s1 + p.k1 <= k.computeH;
    if (inside && p.k0 * p.k1 <= MAX_ACC) {
      mode = "register";
      P = p.k0 * p.k1;
    } else mode = "memory";
  }
  const V = Math.min(vecs, Math.max(1, Math.floor(MAX_ACC / P)));
  const blocks = Math.floor(vecs / V), tail = vecs % V;
  const w = base + blob.add(packConv(k, V, blocks, tail));
  const bias = k.bias.kind === "none" ? -1 : base + blob.add(k.bias.values);
  return { P, V, blocks, tail, mode, w, bias, winograd: false };
}

/** Conv weights [ky][kx][ci][co] re-blocked as [group][ky][kx][ci][V*4]. */
function packConv(k: ConvKernel, V: number, blocks: number, tail: number): Float32Array {
  const cop = k.output.cp, taps = k.kh * k.kw * k.input.cp;
  const widths = [...Array(blocks).fill(V * 4), ...(tail ? [tail * 4] : [])] as number[];
  const out = new Float32Array(taps * cop);
  let o = 0, c0 = 0;
  for (const width of widths) {
    for (let t = 0; t < taps; t++) {
      for (let j = 0; j < width; j++) out[o++] = k.weights[t * cop + c0 + j]!;
    }
    c0 += width;
  }
  return out;
}

function convFn(plan: Plan, k: ConvKernel, s: ConvPlan, fma: boolean, scratchAt: number): Fn {
  const f = new Fn();
  const I = k.input, O = k.output;
  const CIP = I.cp, COP = O.cp;
  // Source after padding: the staging buffer, or the input itself.
  let src = at(plan, k.src), IW = I.w;
  if (k.staging >= 0) {
    const st = at(plan, k.staging);
    const IWp = I.w + 2 * k.p0, IHp = I.h + 2 * k.p1;
    f.i32(st).i32(0).i32(IWp * IHp * CIP * 4).memoryFill();
    const y = f.local(I32);
    f.for(y, 0, I.h, 1, () => {
      f.index(y, IWp * CIP * 4, st + ((k.p1 * IWp) + k.p0) * CIP * 4);
      f.index(y, I.w * CIP * 4, src);
      f.i32(I.w * CIP * 4).memoryCopy();
    });
    src = st;
    IW = IWp;
  }
  if (s.winograd) return winogradFn(plan, k, src, IW, s.w, s.bias, scratchAt, fma, f);
  const rowBytes = IW * CIP * 4;
  const pool = k.pool;
  const ps0 = pool ? pool.s0 : 1, ps1 = pool ? pool.s1 : 1;
  // Window positions (conv-grid offsets from the window origin) blocked together.
  const positions: [number, number][] = [];
  if (s.mode === "register") {
    for (let wy = 0; wy < pool!.k1; wy++) {
      for (let wx = 0; wx < pool!.k0; wx++) positions.push([wx, wy]);
    }
  } else positions.push([0, 0]);
  const P = positions.length;

  const oy = f.local(I32), ox = f.local(I32);
  const ip = f.local(I32), op = f.local(I32), wb = f.local(I32), ch = f.local(I32);
  const fb = f.local(I32); // full-bias base address
  const xs = positions.map(() => f.local(V128));
  const maxV = Math.max(s.V, s.tail);
  const ws = Array.from({ length: maxV }, () => f.local(V128));
  const acc = positions.map(() => Array.from({ length: maxV }, () => f.local(V128)));
  const r = Array.from({ length: maxV }, () => f.local(V128));
  const ii = f.local(I32), ww = f.local(I32), end = f.local(I32);
  const x = f.local(I32), y = f.local(I32);
  const taps = k.kh * k.kw * CIP;
  const run = k.kw * CIP; // contiguous floats per kernel row

  /** Accumulates the conv at the P positions (input pointer in `ip`) into acc[p][0..V). */
  const accumulate = (V: number) => {
    for (let ky = 0; ky < k.kh; ky++) {
      const step = (j: number, wOff: number, iBase: number, wLocal: number, iLocal: number) => {
        positions.forEach(([wx, wy], p) => {
          const posOff = ((wy * k.s1) * IW + wx * k.s0) * CIP * 4;
          f.get(iLocal).splatLoad(iBase + posOff + j * 4).set(xs[p]!);
        });
        for (let v = 0; v < V; v++) f.v128LoadFrom(wLocal, wOff + v * 16).set(ws[v]!);
        for (let p = 0; p < P; p++) {
          for (let v = 0; v < V; v++) madd(f, acc[p]![v]!, xs[p]!, ws[v]!, fma);
        }
      };
      const wRow = ky * run * V * 16;
      if (run <= 16) {
        for (let j = 0; j < run; j++) step(j, wRow + j * V * 16, ky * k.d1 * rowBytes, wb, ip);
      } else {
        // Runtime loop over the row's taps, unrolled by U (constant offsets inside the body).
        const U = [8, 4, 2, 1].find((u) => run % u === 0)!;
        f.get(ip).addConst(ky * rowBytes).set(ii);
        f.get(wb).addConst(wRow).set(ww);
        f.get(ii).addConst(run * 4).set(end);
        f.loop(() => {
          for (let u = 0; u < U; u++) step(u, u * V * 16, 0, ww, ii);
          f.inc(ww, U * V * 16);
          f.get(ii).addConst(U * 4).tee(ii).get(end).op(OP.i32LtS).brIf(0);
        });
      }
    }
  };

  /** Initial accumulator for position p, vector v (bias). */
  const init = (p: number, v: number) => {
    if (k.bias.kind === "none") f.f32x4Const(0);
    else if (k.bias.kind === "channel") f.v128LoadFrom(ch, s.bias + v * 16);
    else {
      const [wx, wy] = positions[p]!;
      f.v128LoadFrom(fb, (wx + wy * k.convW) * COP * 4 + v * 16);
    }
  };

  /** One block of V channel vectors; `ch` holds the block's channel byte offset, `wb` its weights. */
  const block = (V: number) => {
    f.for(oy, 0, O.h, 1, () => {
      f.for(ox, 0, O.w, 1, () => {
        // Output address of this pixel's block.
        f.get(ox).index(oy, O.w).op(OP.i32Add).mulConst(COP * 4)
          .get(ch).op(OP.i32Add).addConst(at(plan, k.dst)).set(op);
        if (s.mode !== "memory") {
          // Window origin (x0, y0) = (ox * ps0, oy * ps1) on the conv grid.
          f.index(oy, ps1 * k.s1 * rowBytes)
            .index(ox, ps0 * k.s0 * CIP * 4).op(OP.i32Add).addConst(src)
            .set(ip);
          if (k.bias.kind === "full") {
            f.index(oy, ps1 * k.convW * COP * 4).index(ox, ps0 * COP * 4)
              .op(OP.i32Add).get(ch).op(OP.i32Add).addConst(s.bias).set(fb);
          }
          for (let p = 0; p < P; p++) for (let v = 0; v < V; v++) (init(p, v), f.set(acc[p]![v]!));
          accumulate(V);
          for (let v = 0; v < V; v++) {
            if (!pool) {
              f.get(acc[0]![v]!);
              if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
            } else if (pool.pool === "max") {
              f.get(acc[0]![v]!);
              for (let p = 1; p < P; p++) f.get(acc[p]![v]!).simd(SIMD.f32x4Max);
              if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
            } else {
              for (let p = 0; p < P; p++) {
                f.get(acc[p]![v]!);
                if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
                if (p > 0) f.simd(SIMD.f32x4Add);
              }
              f.f32x4Const(pool.k0 * pool.k1).simd(SIMD.f32x4Div);
            }
            f.set(r[v]!);
            f.v128StoreTo(op, v * 16, r[v]!);
          }
          return;
        }
        // Memory mode: pool windows with padding or clipped by the computed region.
        const p = pool!;
        for (let v = 0; v < V; v++) {
          f.get(op).f32x4Const(p.pool === "max" ? -FLT_MAX : 0).v128Store(v * 16);
        }
        for (let wy = 0; wy < p.k1; wy++) {
          for (let wx = 0; wx < p.k0; wx++) {
            f.index(oy, p.s1, wy - p.p1).set(y);
            f.index(ox, p.s0, wx - p.p0).set(x);
            // 0 <= y < computeH and 0 <= x < computeW, as unsigned compares.
            f.get(y).i32(k.computeH).op(OP.i32LtU);
            f.get(x).i32(k.computeW).op(OP.i32LtU).op(OP.i32And);
            f.if(() => {
              f.index(y, k.s1 * rowBytes).index(x, k.s0 * CIP * 4)
                .op(OP.i32Add).addConst(src).set(ip);
              if (k.bias.kind === "full") {
                f.index(y, k.convW).get(x).op(OP.i32Add).mulConst(COP * 4)
                  .get(ch).op(OP.i32Add).addConst(s.bias).set(fb);
              }
              for (let v = 0; v < V; v++) (init(0, v), f.set(acc[0]![v]!));
              accumulate(V);
              for (let v = 0; v < V; v++) {
                f.get(op).v128LoadFrom(op, v * 16).get(acc[0]![v]!);
                if (k.relu) f.f32x4Const(0).simd(SIMD.f32x4Max);
                f.simd(p.pool === "max" ? SIMD.f32x4Max : SIMD.f32x4Add).v128Store(v * 16);
              }
            });
          }
        }
        if (p.pool === "avg") {
          for (let v = 0; v < V; v++) {
            f.get(op).v128LoadFrom(op, v * 16).f32x4Const(p.k0 * p.k1).simd(SIMD.f32x4Div)
              .v128Store(v * 16);
          }
        }
      });
    });
  };

  const groupBytes = taps * s.V * 16;
  if (s.blocks > 0) {
    const g = f.local(I32);
    f.for(g, 0, s.blocks, 1, () => {
      f.index(g, s.V * 16).set(ch);
      f.index(g, groupBytes, s.w).set(wb);
      block(s.V);
    });
  }
  if (s.tail) {
    f.i32(s.blocks * s.V * 16).set(ch);
    f.i32(s.w + s.blocks * groupBytes).set(wb);
    block(s.tail);
  }
  return f;
}

function convTs(k: ConvKernel, plan: Plan, blob: WeightBlob): string {
  const I = k.input, O = k.output;
  const src = floatIndex(plan.buffers[k.src]!.offset),
    dst = floatIndex(plan.buffers[k.dst]!.offset);
  const w = floatIndex(blob.add(k.weights));
  const bias = k.bias.kind === "none" ? -1 : floatIndex(blob.add(k.bias.values));
  const p = k.pool ?? { pool: "max", k0: 1, k1: 1, s0: 1, s1: 1, p0: 0, p1: 0 };
  const init = k.bias.kind === "none"
    ? "0"
    : k.bias.kind === "channel"
    ? `W[${bias} + c]!`
    : `W[${bias} + c + ${O.cp} * (x + ${k.convW} * y)]!`;
  const combine = !k.pool
    ? `A[o + c] = v;`
    : p.pool === "max"
    ? `if (!(v <= A[o + c]!)) A[o + c] = v;`
    : `A[o + c] = A[o + c]! + v;`;
  return `  // conv ${k.kw}x${k.kh} stride ${k.s0},${k.s1} pad ${k.p0},${k.p1}: ${I.w}x${I.h}x${I.cp} -> ${O.w}x${O.h}x${O.cp}
  const acc = ACC;
  for (let oy = 0; oy < ${O.h}; oy++) {
    for (let ox = 0; ox < ${O.w}; ox++) {
      const o = ${dst} + ${O.cp} * (ox + ${O.w} * oy);
      for (let c = 0; c < ${O.cp}; c++) A[o + c] = ${
    k.pool ? (p.pool === "max" ? `-${FLT_MAX_TEXT}` : "0") : "0"
  };
      for (let wy = 0; wy < ${p.k1}; wy++) {
        const y = oy * ${p.s1} + wy - ${p.p1};
        if (y < 0 || y >= ${k.computeH}) continue;
        for (let wx = 0; wx < ${p.k0}; wx++) {
          const x = ox * ${p.s0} + wx - ${p.p0};
          if (x < 0 || x >= ${k.computeW}) continue;
          // one conv output pixel (x, y), all channels
          for (let c = 0; c < ${O.cp}; c++) acc[c] = ${init};
          for (let ky = 0; ky < ${k.kh}; ky++) {
            const iy = y * ${k.s1} + ky * ${k.d1} - ${k.p1};
            if (iy < 0 || iy >= ${I.h}) continue;
            for (let kx = 0; kx < ${k.kw}; kx++) {
              const ix = x * ${k.s0} + kx * ${k.d0} - ${k.p0};
              if (ix < 0 || ix >= ${I.w}) continue;
              const i = ${src} + ${I.cp} * (ix + ${I.w} * iy);
              const wr = ${w} + ${I.cp * O.cp} * (kx + ${k.kw} * ky);
              for (let ci = 0; ci < ${I.cp}; ci++) {
                const v = A[i + ci]!;
                const r = wr + ci * ${O.cp};
                for (let c = 0; c < ${O.cp}; c++) acc[c] = acc[c]! + v * W[r + c]!;
              }
            }
          }
          for (let c = 0; c < ${O.cp}; c++) {
            const v = ${k.relu ? "acc[c]! < 0 ? 0 : acc[c]!" : "acc[c]!"};
            ${combine}
          }
        }
      }${
    k.pool?.pool === "avg"
      ? `\n      for (let c = 0; c < ${O.cp}; c++) A[o + c] = A[o + c]! / ${p.k0 * p.k1};`
      : ""
  }
    }
  }`;
}
