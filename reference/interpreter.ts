/**
 * The reference interpreter: runs a {@link Graph} op by op with ggml's semantics, written for
 * clarity, not speed. Every compiler pass and every generated kernel is checked against it.
 *
 * Values are plain contiguous arrays in ggml order (ne[0] fastest). A `permute` materialises
 * its result (ggml returns a strided view; the values are the same), so `cont` is a copy.
 *
 * @module
 */
import { gelu } from "../compiler/ir/scalar_ops.ts";
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
  /**
   * Evaluate gelu as ggml's CPU backend does (GGML_GELU_FP16): 0 for x <= -10, x for x >= 10,
   * else x rounded to f16 and the tanh form's value rounded to f16 (its lookup table). Off by
   * default: the reference computes the tanh form in full precision.
   */
  readonly ggmlGeluF16?: boolean;
}

/** An accumulator: f32 rounding after every add (`Math.fround`) or plain f64. */
type Acc = (x: number) => number;

/**
 * Runs `graph` on `input` and returns the value of every node, indexed by node id.
 *
 * @param graph the graph to run
 * @param input the input node's values (raw pixels 0..255, or byte tokens as `graph.meta.inputKind`
 *   says), length = product of its ne
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
 * @param input the input values (pixels or byte tokens), length = product of the input's ne
 * @param options accumulation precision
 * @returns the output values, ne [10, N] for the MNIST models, [113, N] for Magika
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
      return binaryRepeat(src[0]!, srcNe[0]!, src[1]!, srcNe[1]!, (x, y) => x + y);
    case "mul":
      return binaryRepeat(src[0]!, srcNe[0]!, src[1]!, srcNe[1]!, (x, y) => x * y);
    case "gelu":
      return src[0]!.map(options.ggmlGeluF16 ? geluGgmlF16 : gelu);
    case "norm":
      return norm(src[0]!, node.ne, op.eps);
    case "one_hot":
      return oneHot(src[0]!, op.depth, node);
    case "get_rows":
      return getRows(src[0]!, srcNe[0]!, src[1]!, srcNe[1]!, node);
    case "pool_1d":
      return pool1d(src[0]!, srcNe[0]!, node.ne, op);
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

/**
 * out[i3][i2][n][m] = sum_k a[i3 / r3][i2 / r2][m][k] * b[i3][i2][n][k], with r2 = b.ne2 / a.ne2
 * and r3 = b.ne3 / a.ne3 (ggml's broadcast of a over b), summed in k order.
 *
 * Terms where b is 0 are skipped when every value of a is finite: adding a finite a times 0 leaves
 * the sum unchanged (up to the sign of a zero sum), and the one-hot input of Magika's first layer
 * is 256/257 zeros.
 */
function mulMat(a: Float32Array, A: Ne, b: Float32Array, B: Ne, O: Ne, acc: Acc): Float32Array {
  const [K, M] = A;
  const out = new Float32Array(numel(O));
  const f32 = acc === Math.fround;
  const skipZeros = a.every(Number.isFinite);
  const ks = new Int32Array(K); // the k of the terms summed for one column of b
  for (let i3 = 0; i3 < O[3]; i3++) {
    for (let i2 = 0; i2 < O[2]; i2++) {
      // ggml broadcasts a over b's dims 2 and 3 by integer division of the index.
      const aBase = ((Math.floor(i3 / (B[3] / A[3])) * A[2]) + Math.floor(i2 / (B[2] / A[2]))) *
        K * M;
      const bBase = (i3 * B[2] + i2) * K * B[1];
      const oBase = (i3 * O[2] + i2) * O[0] * O[1];
      for (let n = 0; n < B[1]; n++) {
        const bOff = bBase + n * K;
        let nk = 0;
        for (let k = 0; k < K; k++) if (!skipZeros || b[bOff + k] !== 0) ks[nk++] = k;
        for (let m = 0; m < M; m++) {
          out[oBase + n * M + m] = dot(a, aBase + m * K, b, bOff, ks, nk, f32);
        }
      }
    }
  }
  return out;
}

/**
 * sum of a[aOff + k] * b[bOff + k] over k = ks[0..nk) in that order, rounded to f32 after every
 * add when `f32` (a direct `Math.fround`, which the JIT inlines: mul_mat is most of the
 * interpreter's time).
 */
function dot(
  a: Float32Array,
  aOff: number,
  b: Float32Array,
  bOff: number,
  ks: Int32Array,
  nk: number,
  f32: boolean,
): number {
  let s = 0;
  if (nk === ks.length) { // every k: the same sum without the index list
    if (f32) { for (let k = 0; k < nk; k++) s = Math.fround(s + a[aOff + k]! * b[bOff + k]!); }
    else for (let k = 0; k < nk; k++) s += a[aOff + k]! * b[bOff + k]!;
  } else if (f32) {
    for (let i = 0; i < nk; i++) s = Math.fround(s + a[aOff + ks[i]!]! * b[bOff + ks[i]!]!);
  } else {
    for (let i = 0; i < nk; i++) s += a[aOff + ks[i]!]! * b[bOff + ks[i]!]!;
  }
  return s;
}

/** f(a, b) elementwise with b repeated along every dim where it is smaller (ggml_can_repeat). */
function binaryRepeat(
  a: Float32Array,
  A: Ne,
  b: Float32Array,
  B: Ne,
  f: (x: number, y: number) => number,
): Float32Array {
  const out = new Float32Array(a.length);
  let i = 0;
  for (let i3 = 0; i3 < A[3]; i3++) {
    for (let i2 = 0; i2 < A[2]; i2++) {
      for (let i1 = 0; i1 < A[1]; i1++) {
        const bRow = (((i3 % B[3]) * B[2] + (i2 % B[2])) * B[1] + (i1 % B[1])) * B[0];
        for (let i0 = 0; i0 < A[0]; i0++, i++) out[i] = f(a[i]!, b[bRow + (i0 % B[0])]!);
      }
    }
  }
  return out;
}

export { gelu };

/** gelu as ggml's CPU backend computes it: clamped outside [-10, 10], else an f16 table. */
function geluGgmlF16(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  return Math.f16round(gelu(Math.f16round(x)));
}

/**
 * ggml_norm per row along ne[0]: y = (x - mean) / sqrt(variance + eps), with ggml's roundings:
 * sums in f64 (ggml_float), the sum, mean, each (x - mean) and its square, the variance and the
 * scale in f32.
 */
function norm(x: Float32Array, ne: Ne, eps: number): Float32Array {
  const n = ne[0], out = new Float32Array(x.length), eps32 = Math.fround(eps);
  for (let base = 0; base < x.length; base += n) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[base + i]!;
    const mean = Math.fround(Math.fround(sum) / n);
    let sum2 = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.fround(x[base + i]! - mean);
      out[base + i] = d;
      sum2 += Math.fround(d * d);
    }
    const variance = Math.fround(sum2 / n);
    const scale = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(variance + eps32))));
    for (let i = 0; i < n; i++) out[base + i] = out[base + i]! * scale;
  }
  return out;
}

/** The integer in `v`, or a GraphError when it is not one in 0..limit-1. */
function indexValue(v: number, limit: number, node: Node, what: string, at: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= limit) {
    throw new GraphError(
      node.name,
      `${what} ${v} at index ${at} is not an integer in 0..${limit - 1}`,
    );
  }
  return v;
}

/** One-hot: out[i][t] = 1 where t = tokens[i], for every token i (ne[0] of out = depth). */
function oneHot(tokens: Float32Array, depth: number, node: Node): Float32Array {
  const out = new Float32Array(tokens.length * depth);
  for (let i = 0; i < tokens.length; i++) {
    out[i * depth + indexValue(tokens[i]!, depth, node, "token", i)] = 1;
  }
  return out;
}

/** ggml_get_rows: out[i2][i1][i0] = row idx[i2][i1][i0] of a's plane (i1, i2). */
function getRows(a: Float32Array, A: Ne, idx: Float32Array, I: Ne, node: Node): Float32Array {
  const rowLen = A[0];
  const out = new Float32Array(rowLen * numel(I));
  for (let i = 0; i < idx.length; i++) {
    const plane = Math.floor(i / I[0]); // = i1 + I[1] * i2 = a's plane index (a2 = I[1], a3 = I[2])
    const row = indexValue(idx[i]!, A[1], node, "row index", i);
    const from = (plane * A[1] + row) * rowLen;
    out.set(a.subarray(from, from + rowLen), i * rowLen);
  }
  return out;
}

/**
 * ggml_pool_1d along ne[0] of each row: max skips positions outside the row (-FLT_MAX start),
 * avg divides by k0; for s0 = k0, p0 = 0 (all ggml's CPU kernel computes) windows tile the row.
 */
function pool1d(
  x: Float32Array,
  X: Ne,
  O: Ne,
  p: { pool: "max" | "avg"; k0: number; s0: number; p0: number },
): Float32Array {
  const W = X[0], OW = O[0];
  const out = new Float32Array(numel(O));
  for (let row = 0; row < X[1] * X[2] * X[3]; row++) {
    for (let o = 0; o < OW; o++) {
      let r = p.pool === "max" ? -3.4028234663852886e38 : 0;
      for (let k = 0; k < p.k0; k++) {
        const ix = o * p.s0 + k - p.p0;
        if (ix < 0 || ix >= W) continue;
        const v = x[row * W + ix]!;
        r = p.pool === "max" ? Math.max(r, v) : r + v;
      }
      out[row * OW + o] = p.pool === "max" ? r : r / p.k0;
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
