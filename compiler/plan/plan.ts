/**
 * The plan IR: what the code generators consume. A plan is a flat list of fused kernel calls
 * with constant shapes, reading and writing buffers that the memory pass places at fixed,
 * 16-byte-aligned offsets of one arena. Weights are already in the layout the kernels want
 * (channels-last convolution kernels, dense weights with rows in the order the input buffer is
 * laid out), converted to f32 once at compile time.
 *
 * Activation layouts: an image buffer is channels-last (`HWC`, channel fastest, channel stride
 * `cp` = channels rounded up to a multiple of 4, pad lanes hold 0) so SIMD runs across channels;
 * a flat buffer is a plain vector.
 *
 * @module
 */
import { GraphError } from "../ir/graph.ts";

/** Channels-last image: element (x, y, c) is at float `c + cp * (x + w * y)`. */
export interface ImageLayout {
  readonly kind: "image";
  readonly w: number;
  readonly h: number;
  /** Channels with values. */
  readonly c: number;
  /** Channel stride (>= c); lanes c..cp-1 hold 0. */
  readonly cp: number;
}

/** A plain vector of `n` floats. */
export interface FlatLayout {
  readonly kind: "flat";
  readonly n: number;
}

/** Layout of an activation buffer. */
export type Layout = ImageLayout | FlatLayout;

/** One region of the arena. */
export interface PlanBuffer {
  readonly id: number;
  /** Name of the graph node whose value it holds (or what the scratch is for). */
  readonly name: string;
  /** "input": written by the module before the first kernel; "output": read after the last. */
  readonly role: "input" | "activation" | "output" | "scratch";
  /** Size in bytes (a multiple of 16). */
  readonly bytes: number;
  /** Byte offset in the arena; -1 until the memory pass runs. */
  offset: number;
}

/** Pooling fused into a convolution, or a standalone pool kernel's parameters. */
export interface PoolSpec {
  readonly pool: "max" | "avg";
  readonly k0: number;
  readonly k1: number;
  readonly s0: number;
  readonly s1: number;
  readonly p0: number;
  readonly p1: number;
}

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
export interface ConvKernel {
  readonly kind: "conv2d";
  /** Names of the graph nodes fused into this call, first to last. */
  readonly nodes: readonly string[];
  readonly src: number;
  readonly dst: number;
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

/** A pool on its own (its windows overlap, so it is not fused into the conv). */
export interface PoolKernel {
  readonly kind: "pool2d";
  readonly nodes: readonly string[];
  readonly src: number;
  readonly dst: number;
  readonly input: ImageLayout;
  readonly output: ImageLayout;
  readonly pool: PoolSpec;
}

/**
 * mul_mat with a constant matrix (+ bias) (+ relu | soft_max): `out[m] = sum_k x[k] W[k][m]`,
 * where k runs over the input buffer's floats in memory order (the weights were reordered to
 * match the input's layout, pad lanes get zero rows).
 */
export interface DenseKernel {
  readonly kind: "dense";
  readonly nodes: readonly string[];
  readonly src: number;
  readonly dst: number;
  /** Floats read from the input buffer. */
  readonly k: number;
  /** Outputs. */
  readonly m: number;
  /** `[k][m]`, m fastest. */
  readonly weights: Float32Array;
  /** Length m, or undefined. */
  readonly bias?: Float32Array;
  readonly relu: boolean;
  readonly softmax: boolean;
  /** Scratch buffer (k int32) for the indices of the non-zero inputs; -1 for none. */
  scratch: number;
  /** The matrix in a ggml block format (plan pass quantize-weights); absent: f32 `weights`. */
  quant?: DenseQuant;
}

/**
 * How a quantised dense kernel computes:
 * - "int8": as ggml's q8_0 x q8_0 / q4_0 x q8_0 vec_dot: the input is quantised per block of 32
 *   to int8 with ggml's quantize_row_q8_0, each block's integer dot product is scaled by
 *   d_w * d_x and the blocks are summed in f32;
 * - "dequant": f32 input times the weights dequantised in registers (q8_0 only).
 */
export type QuantCompute = "int8" | "dequant";

/** A dense kernel's matrix in a block format (set by the plan pass quantize-weights). */
export interface DenseQuant {
  readonly type: "q8_0" | "q4_0";
  readonly compute: QuantCompute;
  /** k rounded up to a multiple of 32. */
  readonly kPad: number;
  /** Blocks per output: kPad / 32. */
  readonly blocks: number;
  /** The integer values, `[m][kPad]` (k fastest): q8_0 -127..127, q4_0 -8..7. */
  readonly q: Int8Array;
  /** Block scales `[m][blocks]`: ggml's f16 `d`, as f32. */
  readonly d: Float32Array;
  /** ggml's block bytes, rows of m one after another (what a GGUF file would store). */
  readonly ggml: Uint8Array;
  /** The input is known to be >= 0 (raw pixels or a relu output): int8 activations are 0..127. */
  readonly nonNegativeInput: boolean;
}

/** One call of the plan. */
export type Kernel = ConvKernel | PoolKernel | DenseKernel;

/** The whole compiled computation for one image. */
export interface Plan {
  readonly name: string;
  readonly arch: string;
  readonly layout: string;
  /** Input elements (784 for MNIST), raw values as the graph's input takes them. */
  readonly inputLength: number;
  /** The graph input's shape in ggml order, e.g. [28, 28] or [784]. */
  readonly inputShape: readonly number[];
  /** Output elements (10 probabilities). */
  readonly outputLength: number;
  readonly buffers: PlanBuffer[];
  readonly kernels: Kernel[];
  readonly input: number;
  readonly output: number;
  /** Total arena size in bytes; 0 until the memory pass runs. */
  arenaBytes: number;
  /** Memory figures from the memory pass. */
  memory?: MemoryReport;
}

/** What the memory planner achieved. */
export interface MemoryReport {
  /** Arena bytes with every buffer in its own place (sum of all). */
  readonly naiveBytes: number;
  /** The most bytes live at one moment: no placement can do better. */
  readonly lowerBoundBytes: number;
  /** For each buffer, the first and last kernel index that uses it (-1: before the first). */
  readonly lifetimes: readonly { buffer: number; first: number; last: number }[];
}

/**
 * Error for a graph the backends cannot compile: names the node and the reason. A
 * {@link GraphError}, so the CLI prints it as one line.
 */
export class CompileError extends GraphError {
  /**
   * @param node the node's name
   * @param message why it cannot be compiled
   */
  constructor(node: string, message: string) {
    super(node, `cannot compile: ${message}`);
    this.name = "CompileError";
  }
}

/** Bytes rounded up to 16. */
export function align16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

/** Channels rounded up to a multiple of 4 (one f32x4 lane group). */
export function padChannels(c: number): number {
  return Math.ceil(c / 4) * 4;
}

/** Floats of an activation layout. */
export function layoutFloats(l: Layout): number {
  return l.kind === "image" ? l.w * l.h * l.cp : l.n;
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
 * Multiply-adds a kernel performs (real channels only, padded taps of the border excluded).
 *
 * @param k the kernel
 * @returns MACs per image
 */
export function kernelMacs(k: Kernel): number {
  if (k.kind === "dense") return k.k * k.m;
  if (k.kind === "pool2d") return 0;
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

function shape(l: Layout): string {
  return l.kind === "image" ? `${l.w}x${l.h}x${l.c}${l.cp !== l.c ? `(${l.cp})` : ""}` : `${l.n}`;
}

/**
 * The plan as text, one line per kernel call: op, fused nodes, shapes, arena offsets, bytes,
 * FLOPs; then the buffers and the memory summary. This is what `ggufc compile --plan` prints.
 *
 * @param plan the plan
 * @returns the listing
 */
export function renderPlan(plan: Plan): string {
  const buf = (id: number) => plan.buffers[id]!;
  const at = (id: number) => `@${buf(id).offset}+${buf(id).bytes}`;
  const lines = [`plan for ${plan.name} (${plan.layout}): ${plan.kernels.length} kernel calls`];
  let total = 0;
  plan.kernels.forEach((k, i) => {
    const flops = 2 * kernelMacs(k);
    total += flops;
    let what: string;
    if (k.kind === "conv2d") {
      const p = k.pool ? ` + ${k.pool.pool}pool ${k.pool.k0}x${k.pool.k1}/${k.pool.s0}` : "";
      what =
        `conv2d ${k.kw}x${k.kh}/${k.s0} pad ${k.p0},${k.p1}${
          k.bias.kind !== "none" ? ` + bias(${k.bias.kind})` : ""
        }` +
        `${k.relu ? " + relu" : ""}${p}  ${shape(k.input)} -> ${shape(k.output)}` +
        `  (conv grid ${k.computeW}x${k.computeH} of ${k.convW}x${k.convH})`;
    } else if (k.kind === "pool2d") {
      what = `pool2d ${k.pool.pool} ${k.pool.k0}x${k.pool.k1}/${k.pool.s0}  ${shape(k.input)} -> ${
        shape(k.output)
      }`;
    } else {
      what = `dense ${k.k} -> ${k.m}${k.bias ? " + bias" : ""}${k.relu ? " + relu" : ""}${
        k.softmax ? " + soft_max" : ""
      }`;
    }
    const wBytes = k.kind === "pool2d"
      ? 0
      : k.weights.byteLength + (k.kind === "dense"
        ? (k.bias?.byteLength ?? 0)
        : k.bias.kind === "none"
        ? 0
        : k.bias.values.byteLength);
    lines.push(
      `  ${String(i).padStart(2)}: ${what}`,
      `      in ${at(k.src)}  out ${at(k.dst)}  weights ${wBytes} B  ${flops} FLOPs  [${
        k.nodes.map((n) => JSON.stringify(n)).join(", ")
      }]`,
    );
  });
  lines.push(`  total ${total} FLOPs (${total / 2} multiply-adds) per image`);
  lines.push("buffers:");
  for (const b of plan.buffers) {
    lines.push(
      `  b${b.id} ${b.role.padEnd(10)} @${b.offset} ${b.bytes} B  ${JSON.stringify(b.name)}`,
    );
  }
  if (plan.memory) {
    lines.push(
      `arena ${plan.arenaBytes} bytes (naive ${plan.memory.naiveBytes}, lower bound ${plan.memory.lowerBoundBytes})`,
    );
  }
  return lines.join("\n");
}

/** One plan-to-plan optimisation (after lowering). */
export interface PlanPass {
  readonly name: string;
  readonly description: string;
  run(plan: Plan): Plan;
}
