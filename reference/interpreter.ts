/**
 * The reference interpreter: runs a {@link Graph} op by op with ggml's semantics, written for
 * clarity, not speed. Every compiler pass and every generated kernel is checked against it.
 *
 * Values are plain contiguous arrays in ggml order (ne[0] fastest). A `permute` materialises
 * its result (ggml returns a strided view; the values are the same), so `cont` is a copy.
 *
 * @module
 */
import { type Graph, GraphError, type Ne, type Node, numel } from "../compiler/ir/graph.ts";

/** Options of {@link interpret}. */
export interface InterpretOptions {
  /**
   * Accumulate sums (mul_mat, conv_2d, soft_max) in f64 instead of f32, to measure how far an
   * f32 kernel is from the exact result.
   */
  readonly f64?: boolean;
  /**
   * Round conv_2d inputs to f16 when the kernel is stored as f16, as ggml's CPU backend does
   * (its im2col takes the kernel's type). Off by default: the compiler keeps activations in f32.
   */
  readonly ggmlF16Im2col?: boolean;
}

/** An accumulator: f32 rounding after every add (`Math.fround`) or plain f64. */
type Acc = (x: number) => number;

/**
 * Runs `graph` on `input` and returns the value of every node, indexed by node id.
 *
 * @param graph the graph to run
 * @param input the input node's values (raw pixels 0..255), length = product of its ne
 * @param options accumulation precision
 * @returns one Float32Array per node (weights are returned as stored)
 * @example
 * ```ts
 * import { GraphBuilder } from "../compiler/ir/graph.ts";
 * import { interpret } from "./interpreter.ts";
 * const b = new GraphBuilder();
 * const x = b.input("x", [3]);
 * const y = b.relu(x);
 * const g = b.build(x, y, { layout: "demo", arch: "demo", name: "demo" });
 * console.log(interpret(g, new Float32Array([-1, 0, 2]))[y]); // Float32Array [0, 0, 2]
 * ```
 */
export function interpret(
  graph: Graph,
  input: Float32Array,
  options: InterpretOptions = {},
): Float32Array[] {
  const inputNode = graph.nodes[graph.input]!;
  if (input.length !== numel(inputNode.ne)) {
    throw new GraphError(
      inputNode.name,
      `input has ${input.length} values, the graph needs ${numel(inputNode.ne)}`,
    );
  }
  const acc: Acc = options.f64 ? (x) => x : Math.fround;
  const values: Float32Array[] = [];
  for (const node of graph.nodes) {
    const src = node.src.map((s) => values[s]!);
    values.push(evalNode(graph, node, src, input, acc, options));
  }
  return values;
}

/**
 * Runs `graph` on `input` and returns the output node's value (the probabilities).
 *
 * @param graph the graph to run
 * @param input raw pixel values, length = product of the input's ne
 * @param options accumulation precision
 * @returns the output values, ne [10, N] for the MNIST models
 */
export function runGraph(
  graph: Graph,
  input: Float32Array,
  options: InterpretOptions = {},
): Float32Array {
  return interpret(graph, input, options)[graph.output]!;
}

function evalNode(
  graph: Graph,
  node: Node,
  src: Float32Array[],
  input: Float32Array,
  acc: Acc,
  options: InterpretOptions,
): Float32Array {
  const op = node.op;
  const srcNe = node.src.map((s) => graph.nodes[s]!.ne);
  switch (op.kind) {
    case "input":
      return Float32Array.from(input);
    case "weight":
      return op.values;
    case "mul_mat":
      return mulMat(src[0]!, srcNe[0]!, src[1]!, srcNe[1]!, node.ne, acc);
    case "add":
      return addRepeat(src[0]!, srcNe[0]!, src[1]!, srcNe[1]!);
    case "relu":
      return src[0]!.map((v) => (v > 0 ? v : 0));
    case "scale":
      return src[0]!.map((v) => v * op.factor);
    case "soft_max":
      return softMax(src[0]!, node.ne, acc);
    case "conv_2d": {
      const kernelNode = graph.nodes[node.src[0]!]!;
      const roundF16 = options.ggmlF16Im2col === true && kernelNode.op.kind === "weight" &&
        kernelNode.op.type === "f16";
      const x = roundF16 ? src[1]!.map((v) => Math.f16round(v)) : src[1]!;
      return conv2d(src[0]!, srcNe[0]!, x, srcNe[1]!, node.ne, op, acc);
    }
    case "pool_2d":
      return pool2d(src[0]!, srcNe[0]!, node.ne, op);
    case "permute":
      return permute(src[0]!, srcNe[0]!, node.ne, op.axes);
    case "cont":
    case "reshape":
      return Float32Array.from(src[0]!);
  }
}

/** out[i3][i2][n][m] = sum_k a[i3 % a3][i2 % a2][m][k] * b[i3][i2][n][k]. */
function mulMat(a: Float32Array, A: Ne, b: Float32Array, B: Ne, O: Ne, acc: Acc): Float32Array {
  const [K, M] = A;
  const out = new Float32Array(numel(O));
  for (let i3 = 0; i3 < O[3]; i3++) {
    for (let i2 = 0; i2 < O[2]; i2++) {
      // ggml broadcasts a over b's dims 2 and 3 by integer division of the index.
      const aBase = ((Math.floor(i3 / (B[3] / A[3])) * A[2]) + Math.floor(i2 / (B[2] / A[2]))) *
        K * M;
      const bBase = (i3 * B[2] + i2) * K * B[1];
      const oBase = (i3 * O[2] + i2) * O[0] * O[1];
      for (let n = 0; n < B[1]; n++) {
        for (let m = 0; m < M; m++) {
          let s = 0;
          for (let k = 0; k < K; k++) s = acc(s + a[aBase + m * K + k]! * b[bBase + n * K + k]!);
          out[oBase + n * M + m] = s;
        }
      }
    }
  }
  return out;
}

/** a + b with b repeated along every dim where it is smaller (ggml_can_repeat). */
function addRepeat(a: Float32Array, A: Ne, b: Float32Array, B: Ne): Float32Array {
  const out = new Float32Array(a.length);
  let i = 0;
  for (let i3 = 0; i3 < A[3]; i3++) {
    for (let i2 = 0; i2 < A[2]; i2++) {
      for (let i1 = 0; i1 < A[1]; i1++) {
        const bRow = (((i3 % B[3]) * B[2] + (i2 % B[2])) * B[1] + (i1 % B[1])) * B[0];
        for (let i0 = 0; i0 < A[0]; i0++, i++) out[i] = a[i]! + b[bRow + (i0 % B[0])]!;
      }
    }
  }
  return out;
}

/** Softmax of each row along ne[0], max-subtracted as ggml does. */
function softMax(x: Float32Array, ne: Ne, acc: Acc): Float32Array {
  const out = new Float32Array(x.length);
  const rows = x.length / ne[0];
  for (let r = 0; r < rows; r++) {
    const base = r * ne[0];
    let max = -Infinity;
    for (let i = 0; i < ne[0]; i++) max = Math.max(max, x[base + i]!);
    let sum = 0;
    for (let i = 0; i < ne[0]; i++) {
      const e = Math.exp(x[base + i]! - max);
      out[base + i] = e;
      sum = acc(sum + Math.fround(e));
    }
    for (let i = 0; i < ne[0]; i++) out[base + i] = out[base + i]! / sum;
  }
  return out;
}

/**
 * Direct convolution (cross-correlation, as ggml's im2col + mul_mat):
 * out[n][co][oy][ox] = sum_{ci,ky,kx} k[co][ci][ky][kx] * x[n][ci][oy*s1 + ky*d1 - p1][ox*s0 + kx*d0 - p0],
 * with zeros outside the input.
 */
function conv2d(
  k: Float32Array,
  Kn: Ne,
  x: Float32Array,
  X: Ne,
  O: Ne,
  p: { s0: number; s1: number; p0: number; p1: number; d0: number; d1: number },
  acc: Acc,
): Float32Array {
  const [KW, KH, CI, CO] = Kn;
  const [W, H, , N] = X;
  const [OW, OH] = O;
  const out = new Float32Array(numel(O));
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < CO; co++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let s = 0;
          for (let ci = 0; ci < CI; ci++) {
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * p.s1 + ky * p.d1 - p.p1;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * p.s0 + kx * p.d0 - p.p0;
                if (ix < 0 || ix >= W) continue;
                const kv = k[((co * CI + ci) * KH + ky) * KW + kx]!;
                const xv = x[((n * CI + ci) * H + iy) * W + ix]!;
                s = acc(s + kv * xv);
              }
            }
          }
          out[((n * CO + co) * OH + oy) * OW + ox] = s;
        }
      }
    }
  }
  return out;
}

/**
 * ggml_pool_2d: max skips positions outside the input (-FLT_MAX start); avg sums the positions
 * inside and divides by the full window size k0*k1, as ggml's CPU kernel does.
 */
function pool2d(
  x: Float32Array,
  X: Ne,
  O: Ne,
  p: {
    pool: "max" | "avg";
    k0: number;
    k1: number;
    s0: number;
    s1: number;
    p0: number;
    p1: number;
  },
): Float32Array {
  const [W, H, C, N] = X;
  const [OW, OH] = O;
  const out = new Float32Array(numel(O));
  for (let plane = 0; plane < C * N; plane++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let r = p.pool === "max" ? -3.4028234663852886e38 : 0;
        for (let ky = 0; ky < p.k1; ky++) {
          const iy = oy * p.s1 + ky - p.p1;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < p.k0; kx++) {
            const ix = ox * p.s0 + kx - p.p0;
            if (ix < 0 || ix >= W) continue;
            const v = x[(plane * H + iy) * W + ix]!;
            r = p.pool === "max" ? Math.max(r, v) : r + v;
          }
        }
        out[(plane * OH + oy) * OW + ox] = p.pool === "max" ? r : r / (p.k0 * p.k1);
      }
    }
  }
  return out;
}

/** Materialised ggml_permute: source index (i0..i3) lands at result index with i_k at axes[k]. */
function permute(
  x: Float32Array,
  A: Ne,
  O: Ne,
  axes: readonly [number, number, number, number],
): Float32Array {
  const out = new Float32Array(x.length);
  const oStride = [1, O[0], O[0] * O[1], O[0] * O[1] * O[2]];
  const st = axes.map((a) => oStride[a]!);
  let i = 0;
  for (let i3 = 0; i3 < A[3]; i3++) {
    for (let i2 = 0; i2 < A[2]; i2++) {
      for (let i1 = 0; i1 < A[1]; i1++) {
        for (let i0 = 0; i0 < A[0]; i0++, i++) {
          out[i0 * st[0]! + i1 * st[1]! + i2 * st[2]! + i3 * st[3]!] = x[i]!;
        }
      }
    }
  }
  return out;
}

/** Index of the largest value in `probs[offset .. offset + n)`. */
export function argmax(probs: ArrayLike<number>, offset = 0, n = probs.length - offset): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (probs[offset + i]! > probs[offset + best]!) best = i;
  return best;
}
