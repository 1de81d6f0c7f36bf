/**
 * The WASM backend: the plan as one WebAssembly module with SIMD128 kernels specialised to
 * the plan's constant shapes and offsets. Two variants come from the same code: one using the
 * relaxed-SIMD FMA (`f32x4.relaxed_madd`) and one with plain `f32x4.mul` + `f32x4.add`; the
 * emitted module validates the relaxed one at load and falls back to the plain one.
 *
 * Memory: the arena at byte 0, then the weights (copied in once at load from the module's
 * weights section, shared by both variants). Fixed size, no growth.
 *
 * Kernels (all channels-last, SIMD across output channels):
 * - conv (+bias +relu +pool): register-blocked over P conv positions (the pool window's, when
 *   they can be computed together) x V output-channel vectors, P*V <= 8 f32x4 accumulators.
 *   Each tap loads one broadcast input value per position and one weight vector per V, so a
 *   weight load feeds P multiply-adds. Padding is handled once per call by copying the input
 *   into a zeroed staging buffer, so the inner loops never test bounds. Weights are re-blocked
 *   per channel group ([group][ky][kx][ci][V*4]) so the inner loop streams them contiguously.
 * - dense (+bias +relu | +soft_max): first collects the indices of the non-zero inputs (raw
 *   MNIST pixels are ~80% zero, hidden relu outputs ~50%), then per block of 8 output vectors
 *   accumulates only those rows. Adding x*w for x == 0 changes nothing, so this is exact.
 *   soft_max uses the imported `Math.exp` in f64, as the interpreter does.
 *
 * @module
 */
import {
  CompileError,
  type ConvKernel,
  type DenseKernel,
  type Kernel,
  type Plan,
  type PoolKernel,
} from "../plan/plan.ts";
import { encodeModule, Fn, I32, OP, SIMD, V128 } from "../../wasm/assembler.ts";
import { WeightBlob } from "./weights_blob.ts";
import { at, madd, softmax } from "./wasm_shared.ts";
import {
  packWinograd,
  winogradEligible,
  winogradFn,
  winogradScratchBytes,
} from "./wasm_winograd.ts";
import type { WasmKernels } from "./backend_output.ts";
import {
  describeQuantDense,
  prepareQuantDense,
  quantDenseFn,
  type QuantDensePlan,
} from "./wasm_dense_quant.ts";

/** Options of {@link generateWasm}. */
export interface WasmOptions {
  /** Also emit the relaxed-SIMD FMA variant (used when the engine validates it). */
  readonly relaxed: boolean;
  /** Use Winograd F(2x2,3x3) for the convs it fits (default true). */
  readonly winograd?: boolean;
}

const FLT_MAX = 3.4028234663852886e38;
/** Most f32x4 accumulators a kernel keeps live (x64 has 16 vector registers). */
const MAX_ACC = 8;
/** Dense kernels with at most this many outputs use one dot-product accumulator per output. */
const DOT_ROWS = 12;

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
  /** Winograd F(2x2,3x3) instead of the direct convolution (see wasm_winograd.ts). */
  readonly winograd: boolean;
  /** Byte address of the packed weights, and of the bias. */
  readonly w: number;
  readonly bias: number;
}

/**
 * Generates the WASM backend for `plan`.
 *
 * @param plan a plan whose memory is placed
 * @param options whether to add the relaxed-SIMD variant
 * @returns the weights section, the kernels in both encodings and where the weights go
 * @throws CompileError for a kernel shape this backend does not cover (e.g. dilation)
 */
export function generateWasm(plan: Plan, options: WasmOptions): WasmKernels {
  const blob = new WeightBlob();
  const useWinograd = (k: Kernel) =>
    options.winograd !== false && k.kind === "conv2d" && winogradEligible(k);
  // Kernel scratch (Winograd tiles) sits between the arena and the weights.
  const scratchAt = Math.ceil(plan.arenaBytes / 16) * 16;
  const scratchBytes = Math.max(
    0,
    ...plan.kernels.map((k) => useWinograd(k) && k.kind === "conv2d" ? winogradScratchBytes(k) : 0),
  );
  const weightsAt = scratchAt + scratchBytes;
  const strategies = plan.kernels.map((k) => prepare(plan, k, blob, weightsAt, useWinograd(k)));
  const pages = Math.max(1, Math.ceil((weightsAt + blob.byteLength) / 65536));
  const build = (fma: boolean) => {
    const functions = plan.kernels.map((k, i) => ({
      name: `k${i}`,
      fn: kernelFn(plan, k, strategies[i]!, fma, scratchAt),
    }));
    const run = new Fn();
    functions.forEach((_, i) => run.call(1 + i));
    return encodeModule({
      imports: [["m", "exp"]],
      functions: [...functions, { name: "run", fn: run }],
      pages,
    });
  };
  const plain = build(false);
  const relaxed = options.relaxed ? build(true) : undefined;
  // The loader (compiler/emit/runtime/wasm_loader.ts) picks the variant, copies the weights to
  // weightsAt and reads the arena at 0; the emitter writes these fields into the module.
  const weights = blob.bytes();
  return {
    target: "wasm",
    weights,
    simd: plain,
    ...(relaxed ? { relaxed } : {}),
    weightsAt,
    weightBytes: weights.length,
    codeBytes: plain.length + (relaxed?.length ?? 0),
    notes: plan.kernels.map((k, i) => `k${i}: ${describeStrategy(k, strategies[i]!)}`),
  };
}

function describeStrategy(k: Kernel, s: ConvPlan | DensePlan | QuantDensePlan | null): string {
  if (k.kind === "pool2d" || s === null) return "pool, f32x4 across channels";
  if ("quant" in s) return describeQuantDense(k, s); // quantised weights (wasm_dense_quant.ts)
  if ("dot" in s) {
    return s.dot
      ? `dense, ${k.kind === "dense" ? k.m : 0} f32x4 dot-product accumulators along k`
      : `dense over non-zero inputs, ${s.V} f32x4 output vectors per block`;
  }
  if (s.winograd) return "Winograd F(2x2,3x3), 4 tiles x 2 channel vectors per GEMM block";
  return `direct convolution, ${s.P} position(s) x ${s.V} channel vectors per block (${s.mode})`;
}

/** Packs a kernel's weights in this backend's layout; returns where they are. */
function prepare(
  plan: Plan,
  k: Kernel,
  blob: WeightBlob,
  base: number,
  winograd: boolean,
): ConvPlan | DensePlan | QuantDensePlan | null {
  if (k.kind === "pool2d") return null;
  if (k.kind === "dense" && k.quant) return prepareQuantDense(k, blob, base); // q8_0 / q4_0
  if (k.kind === "conv2d" && winograd) {
    const bias = k.bias.kind === "channel" ? base + blob.add(k.bias.values) : -1;
    const w = base + blob.add(packWinograd(k));
    return { P: 4, V: 2, blocks: 0, tail: 0, mode: "register", w, bias, winograd: true };
  }
  if (k.kind === "dense") {
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
    const w = base + blob.add(packDense(k, V, blocks, tail));
    const bias = k.bias ? base + blob.add(padTo(k.bias, vecs * 4)) : -1;
    return { dot: false, V, blocks, tail, w, bias };
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
  void plan;
  return { P, V, blocks, tail, mode, w, bias, winograd: false };
}

interface DensePlan {
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

/** Dense weights as [block][k][V*4] (the tail block with its own width). */
function packDense(k: DenseKernel, V: number, blocks: number, tail: number): Float32Array {
  const widths = [...Array(blocks).fill(V * 4), ...(tail ? [tail * 4] : [])] as number[];
  const out = new Float32Array(widths.reduce((s, w) => s + w * k.k, 0));
  let o = 0, m0 = 0;
  for (const width of widths) {
    for (let kk = 0; kk < k.k; kk++) {
      for (let j = 0; j < width; j++) {
        const m = m0 + j;
        out[o++] = m < k.m ? k.weights[kk * k.m + m]! : 0;
      }
    }
    m0 += width;
  }
  return out;
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

function kernelFn(
  plan: Plan,
  k: Kernel,
  s: ConvPlan | DensePlan | QuantDensePlan | null,
  fma: boolean,
  scratchAt: number,
): Fn {
  if (s !== null && "quant" in s) return quantDenseFn(plan, k as DenseKernel, s, fma); // q8_0 / q4_0
  if (k.kind === "conv2d") return convFn(plan, k, s as ConvPlan, fma, scratchAt);
  if (k.kind === "dense") return denseFn(plan, k, s as DensePlan, fma);
  return poolFn(plan, k);
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

function poolFn(plan: Plan, k: PoolKernel): Fn {
  const f = new Fn();
  const I = k.input, O = k.output, p = k.pool;
  const src = at(plan, k.src), dst = at(plan, k.dst);
  const oy = f.local(I32), ox = f.local(I32), c = f.local(I32), op = f.local(I32);
  const x = f.local(I32), y = f.local(I32), r = f.local(V128);
  f.for(oy, 0, O.h, 1, () => {
    f.for(ox, 0, O.w, 1, () => {
      f.get(ox).index(oy, O.w).op(OP.i32Add).mulConst(O.cp * 4).set(op);
      f.for(c, 0, O.cp * 4, 16, () => {
        f.f32x4Const(p.pool === "max" ? -FLT_MAX : 0).set(r);
        for (let wy = 0; wy < p.k1; wy++) {
          for (let wx = 0; wx < p.k0; wx++) {
            f.index(oy, p.s1, wy - p.p1).set(y);
            f.index(ox, p.s0, wx - p.p0).set(x);
            f.get(y).i32(I.h).op(OP.i32LtU).get(x).i32(I.w).op(OP.i32LtU).op(OP.i32And);
            f.if(() => {
              f.get(r);
              f.index(y, I.w).get(x).op(OP.i32Add).mulConst(I.cp * 4)
                .get(c).op(OP.i32Add).v128Load(src);
              f.simd(p.pool === "max" ? SIMD.f32x4Max : SIMD.f32x4Add).set(r);
            });
          }
        }
        f.get(op).get(c).op(OP.i32Add).get(r);
        if (p.pool === "avg") f.f32x4Const(p.k0 * p.k1).simd(SIMD.f32x4Div);
        f.v128Store(dst);
      });
    });
  });
  return f;
}
