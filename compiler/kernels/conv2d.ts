/**
 * Kernel family `conv2d`: `conv_2d [+ add] [+ relu] [+ pool_2d]` in one call, channels-last in
 * and out. The pool is fused when its windows do not overlap, so no conv value is computed
 * twice; the conv output is never stored, each value goes straight into its pool window. A conv
 * that pads reads a zero-padded staging copy of its input, so the inner loops never test bounds.
 *
 * @module
 */
import type { Ne, Node } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import {
  type ImageLayout,
  layoutFloats,
  layoutShape,
  padChannels,
  type PoolSpec,
} from "./layout.ts";

/** Bias of a convolution: none, one value per channel, or one per output element. */
export type ConvBias =
  | { readonly kind: "none" }
  /** `values[c]`, length cp. */
  | { readonly kind: "channel"; readonly values: Float32Array }
  /** `values[c + cp * (x + convW * y)]` over the full conv output grid. */
  | { readonly kind: "full"; readonly values: Float32Array };

/**
 * conv_2d (+ bias) (+ relu) (+ pool), channels-last in and out. The convolution is evaluated
 * only at the positions {@link convPositions} lists, and never stored: each value goes straight
 * into the pool (or to the output when there is no pool).
 */
export interface ConvKernel extends KernelBase {
  readonly kind: "conv2d";
  readonly input: ImageLayout;
  readonly output: ImageLayout;
  readonly kw: number;
  readonly kh: number;
  readonly s0: number;
  readonly s1: number;
  readonly p0: number;
  readonly p1: number;
  readonly d0: number;
  readonly d1: number;
  /** Full size of the convolution's output grid. */
  readonly convW: number;
  readonly convH: number;
  /**
   * The part of the grid that is computed: [0, computeW) x [0, computeH). Starts as the full
   * grid; the dead-work pass shrinks it to what the consumer reads.
   */
  computeW: number;
  computeH: number;
  /** Weights `[ky][kx][ci][co]`, co fastest; ci runs to input.cp, co to output.cp (zeros). */
  readonly weights: Float32Array;
  readonly bias: ConvBias;
  readonly relu: boolean;
  readonly pool?: PoolSpec;
  /**
   * Scratch buffer for the zero-padded input ((w + 2 p0) x (h + 2 p1) x cp) when the conv pads,
   * so the WASM kernel's inner loops never test bounds; -1 when it does not pad.
   */
  staging: number;
}

/**
 * The conv-grid positions a conv kernel evaluates, grouped by output element: for each output
 * pixel (row-major), the list of [x, y] grid positions feeding it. Without a pool that is the
 * pixel itself; with a pool, the window positions inside the computed region.
 *
 * @param k the kernel
 * @returns one list per output pixel
 */
export function convPositions(k: ConvKernel): [number, number][][] {
  const out: [number, number][][] = [];
  const p = k.pool;
  for (let oy = 0; oy < k.output.h; oy++) {
    for (let ox = 0; ox < k.output.w; ox++) {
      if (!p) {
        out.push([[ox, oy]]);
        continue;
      }
      const win: [number, number][] = [];
      for (let wy = 0; wy < p.k1; wy++) {
        const y = oy * p.s1 + wy - p.p1;
        if (y < 0 || y >= k.computeH) continue;
        for (let wx = 0; wx < p.k0; wx++) {
          const x = ox * p.s0 + wx - p.p0;
          if (x < 0 || x >= k.computeW) continue;
          win.push([x, y]);
        }
      }
      out.push(win);
    }
  }
  return out;
}

/**
 * Multiply-adds of a conv call (real channels only, padded taps of the border excluded).
 *
 * @param k the kernel
 * @returns MACs per image
 */
function convMacs(k: ConvKernel): number {
  let taps = 0;
  for (const win of convPositions(k)) {
    for (const [x, y] of win) {
      for (let ky = 0; ky < k.kh; ky++) {
        const iy = y * k.s1 + ky * k.d1 - k.p1;
        if (iy < 0 || iy >= k.input.h) continue;
        for (let kx = 0; kx < k.kw; kx++) {
          const ix = x * k.s0 + kx * k.d0 - k.p0;
          if (ix >= 0 && ix < k.input.w) taps++;
        }
      }
    }
  }
  return taps * k.input.c * k.output.c;
}

/** Lowers `conv_2d` and the bias, relu and non-overlapping pool that follow it. */
function lowerConv(node: Node, ctx: LowerContext): Lowered<ConvKernel> {
  if (node.op.kind !== "conv_2d") throw new Error("unreachable");
  const { nodes } = ctx;
  const op = node.op;
  const kernelNode = ctx.weightOf(node.src[0]!, node);
  const inL = ctx.imageInput(node.src[1]!, node);
  const [KW, KH, CI, CO] = kernelNode.ne;
  const [OW, OH] = node.ne;
  const cop = padChannels(CO);
  const kv = (kernelNode.op as { values: Float32Array }).values;
  // ggml's kernel [KW, KH, CI, CO] (KW fastest) -> [ky][kx][ci][co], co fastest, padded to cop.
  const weights = new Float32Array(KH * KW * inL.cp * cop);
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      for (let ci = 0; ci < CI; ci++) {
        for (let co = 0; co < CO; co++) {
          weights[co + cop * (ci + inL.cp * (kx + KW * ky))] =
            kv[kx + KW * (ky + KH * (ci + CI * co))]!;
        }
      }
    }
  }
  const fused = [node];
  let last = node;
  let bias: ConvBias = { kind: "none" };
  let relu = false;
  let pool: ConvKernel["pool"];
  let u = ctx.next(last.id);
  if (u?.op.kind === "add" && u.src[0] === last.id && nodes[u.src[1]!]!.op.kind === "weight") {
    bias = convBias(nodes[u.src[1]!]!, OW, OH, CO, cop);
    fused.push(u);
    last = u;
    u = ctx.next(last.id);
  }
  if (u?.op.kind === "relu") {
    relu = true;
    fused.push(u);
    last = u;
    u = ctx.next(last.id);
  }
  if (u?.op.kind === "pool_2d" && u.op.s0 >= u.op.k0 && u.op.s1 >= u.op.k1) {
    pool = u.op;
    fused.push(u);
    last = u;
  }
  const output: ImageLayout = { kind: "image", w: last.ne[0], h: last.ne[1], c: CO, cp: cop };
  const dst = ctx.newBuffer(last.name, "activation", layoutFloats(output));
  const staging = op.p0 || op.p1
    ? ctx.newBuffer(
      `${node.name}:padded`,
      "scratch",
      (inL.w + 2 * op.p0) * (inL.h + 2 * op.p1) * inL.cp,
    )
    : -1;
  const kernel: ConvKernel = {
    kind: "conv2d",
    nodes: fused.map((n) => n.name),
    src: ctx.valueOf(node.src[1]!, node).buf,
    dst,
    input: inL,
    output,
    kw: KW,
    kh: KH,
    s0: op.s0,
    s1: op.s1,
    p0: op.p0,
    p1: op.p1,
    d0: op.d0,
    d1: op.d1,
    convW: OW,
    convH: OH,
    computeW: OW,
    computeH: OH,
    weights,
    bias,
    relu,
    ...(pool ? { pool } : {}),
    staging,
  };
  return { kernel, last };
}

/** A conv bias as per-channel values when it is [1,1,C], else expanded over the conv grid. */
function convBias(b: Node, OW: number, OH: number, CO: number, cop: number): ConvBias {
  const v = (b.op as { values: Float32Array }).values;
  const B: Ne = b.ne;
  const at = (x: number, y: number, c: number) =>
    v[(x % B[0]) + B[0] * ((y % B[1]) + B[1] * (c % B[2]))]!;
  if (B[0] === 1 && B[1] === 1) {
    return {
      kind: "channel",
      values: new Float32Array(cop).map((_, c) => (c < CO ? at(0, 0, c) : 0)),
    };
  }
  const values = new Float32Array(OW * OH * cop);
  for (let y = 0; y < OH; y++) {
    for (let x = 0; x < OW; x++) {
      for (let c = 0; c < CO; c++) values[c + cop * (x + OW * y)] = at(x, y, c);
    }
  }
  return { kind: "full", values };
}

function poolText(p: PoolSpec): string {
  return `${p.pool} pool ${p.k0}x${p.k1}/${p.s0}`;
}

/** The `conv2d` family. */
export const conv2d: KernelDef<ConvKernel> = {
  kind: "conv2d",
  startsAt: ["conv_2d"],
  lower: lowerConv,
  macs: convMacs,
  auxBuffers: (k) => (k.staging >= 0 ? [{ use: "staging", buffer: k.staging }] : []),
  describe(k) {
    const p = k.pool ? ` + ${k.pool.pool}pool ${k.pool.k0}x${k.pool.k1}/${k.pool.s0}` : "";
    return `conv2d ${k.kw}x${k.kh}/${k.s0} pad ${k.p0},${k.p1}${
      k.bias.kind !== "none" ? ` + bias(${k.bias.kind})` : ""
    }` +
      `${k.relu ? " + relu" : ""}${p}  ${layoutShape(k.input)} -> ${layoutShape(k.output)}` +
      `  (conv grid ${k.computeW}x${k.computeH} of ${k.convW}x${k.convH})`;
  },
  title(k) {
    const parts = [`conv2d ${k.kw}x${k.kh}/${k.s0} p${k.p0}`];
    if (k.bias.kind !== "none") parts.push("bias");
    if (k.relu) parts.push("relu");
    if (k.pool) parts.push(poolText(k.pool));
    return parts.join(" + ");
  },
  inputLayout: (k) => k.input,
  outputLayout: (k) => k.output,
  nonNegativeOutput: (k) => k.relu,
  constBytes: (k) => k.weights.byteLength + (k.bias.kind === "none" ? 0 : k.bias.values.byteLength),
  weightLabel(k, weight, use) {
    if (use.op.kind === "conv_2d" && use.src[0] === weight.id) {
      return { layout: "[ky][kx][ci][co] f32", bytes: k.weights.byteLength };
    }
    if (k.bias.kind !== "none" && use.op.kind === "add") {
      return { layout: `bias/${k.bias.kind} f32`, bytes: k.bias.values.byteLength };
    }
    return undefined;
  },
};
