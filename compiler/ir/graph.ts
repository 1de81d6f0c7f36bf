/**
 * The graph IR: one immutable node type, ops with ggml's semantics, shapes in ggml `ne` order
 * (`ne[0]` varies fastest; an image is `[W, H, C, N]`, a weight matrix `[K, M]`). Every node is
 * created through {@link GraphBuilder}, which infers and checks its shape, so an invalid graph
 * cannot be built. Building never computes: the reference interpreter (`reference/interpreter.ts`) does.
 *
 * @module
 */

import type { WeightType } from "../../ggml/ggml_types.ts";

/** Storage type of a weight as it was in the model file (defined with the ggml types). */
export type { WeightType };

/** A shape in ggml order, always four dims (missing trailing dims are 1). */
export type Ne = readonly [number, number, number, number];

/** Parameters of `conv_2d` (ggml_conv_2d): stride, padding, dilation per axis (0 = x/W, 1 = y/H). */
export interface Conv2dParams {
  readonly s0: number;
  readonly s1: number;
  readonly p0: number;
  readonly p1: number;
  readonly d0: number;
  readonly d1: number;
}

/** Parameters of `pool_2d` (ggml_pool_2d): kernel, stride and padding per axis. */
export interface Pool2dParams {
  readonly pool: "max" | "avg";
  readonly k0: number;
  readonly k1: number;
  readonly s0: number;
  readonly s1: number;
  readonly p0: number;
  readonly p1: number;
}

/**
 * Parameters of `pool_1d` (ggml_pool_1d) over ne[0]: kernel, stride, padding. ggml's CPU kernel
 * computes only s0 = k0, p0 = 0; other values follow pool_2d's rules along one axis.
 */
export interface Pool1dParams {
  readonly pool: "max" | "avg";
  readonly k0: number;
  readonly s0: number;
  readonly p0: number;
}

/** What the graph input holds (GraphMeta.inputKind). */
export type InputKind =
  /** Raw pixel values 0..255 as f32 (the MNIST models: [784,N] or [28,28,1,N]). */
  | "pixels"
  /** Byte tokens 0..256 as f32, 256 = padding (Magika: [1536,N], see emit/runtime/byte_tokens.ts). */
  | "byte-tokens";

/** What a node computes; `kind` names the ggml op. */
export type Op =
  | { readonly kind: "input" }
  | {
    readonly kind: "weight";
    /** Type in the model file; `values` is its exact dequantisation. */
    readonly type: WeightType;
    /** Values in ggml order (ne[0] fastest), length = product of ne. */
    readonly values: Float32Array;
  }
  /** ggml_mul_mat(a [K,M,..], b [K,N,..]) -> [M,N,..]: out[n][m] = sum_k a[m][k] * b[n][k]. */
  | { readonly kind: "mul_mat" }
  /** ggml_add(a, b): b repeated to a's shape (each a.ne[i] a multiple of b.ne[i]). */
  | { readonly kind: "add" }
  /** ggml_mul(a, b): elementwise product, b repeated to a's shape as in `add`. */
  | { readonly kind: "mul" }
  | { readonly kind: "relu" }
  /**
   * ggml_gelu, the tanh form: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))). ggml's CPU
   * backend (GGML_GELU_FP16) returns 0 for x <= -10 and x for x >= 10, and in between rounds x to
   * f16 and reads a 65536-entry table of f16 results, so its values are within about 1e-3
   * relative of the exact function; the reference interpreter computes the tanh form in full
   * precision (its `ggmlGeluF16` option reproduces the table).
   */
  | { readonly kind: "gelu" }
  /** ggml_norm: (x - mean) / sqrt(variance + eps) over ne[0] of each row (no gain, no bias). */
  | { readonly kind: "norm"; readonly eps: number }
  /**
   * One-hot encoding (not a ggml op; ggml's Magika example builds it on the CPU before the
   * graph): tokens [n0,n1,n2] holding integers 0..depth-1 as f32 -> [depth,n0,n1,n2], 1 at the
   * token's index and 0 elsewhere. Kept in the graph so `mul_mat(W, one_hot(t))` can become a
   * row gather (`get_rows`).
   */
  | { readonly kind: "one_hot"; readonly depth: number }
  /**
   * ggml_get_rows(a [ne0,rows,a2,a3], idx [n,a2,a3]) -> [ne0,n,a2,a3]: result row (i, j, l) is
   * row idx[i,j,l] of a's plane (j, l). Indices are integers held as f32 (ggml's are i32).
   */
  | { readonly kind: "get_rows" }
  /** ggml_soft_max: softmax along ne[0] of each row. */
  | { readonly kind: "soft_max" }
  | { readonly kind: "scale"; readonly factor: number }
  /** ggml_conv_2d(kernel [KW,KH,Cin,Cout], input [W,H,Cin,N]) -> [OW,OH,Cout,N]; cross-correlation. */
  | ({ readonly kind: "conv_2d" } & Conv2dParams)
  | ({ readonly kind: "pool_2d" } & Pool2dParams)
  /** ggml_pool_1d over ne[0]: [W,a1,a2,a3] -> [OW,a1,a2,a3]. */
  | ({ readonly kind: "pool_1d" } & Pool1dParams)
  /** ggml_permute(a, axes): source dim i becomes result dim axes[i]. */
  | { readonly kind: "permute"; readonly axes: readonly [number, number, number, number] }
  | { readonly kind: "cont" }
  | { readonly kind: "reshape" };

/** The op kinds, e.g. `"conv_2d"`. */
export type OpKind = Op["kind"];

/** One tensor of the graph: the op that makes it, its inputs and its shape. */
export interface Node {
  /** Index in {@link Graph.nodes}; sources always have smaller ids (topological order). */
  readonly id: number;
  readonly name: string;
  readonly op: Op;
  readonly src: readonly number[];
  readonly ne: Ne;
}

/** A whole model: nodes in topological order, one input, one output. */
export interface Graph {
  readonly nodes: readonly Node[];
  /**
   * Id of the input node: raw pixel values 0..255 as f32 ([W,H,1,N] or [784,N]), or byte tokens
   * (`meta.inputKind`).
   */
  readonly input: number;
  /** Id of the node whose value is the result (probabilities, ne [classes, N]). */
  readonly output: number;
  /** Facts about the model the graph came from. */
  readonly meta: GraphMeta;
}

/** Where a graph came from. */
export interface GraphMeta {
  /** Detected layout, e.g. `seed-cnn`, `seed-fc`, `ggml-fc`, `ggml-cnn`. */
  readonly layout: string;
  /** `general.architecture` or what it would be (`mnist-cnn`, `mnist-fc`). */
  readonly arch: string;
  /** `general.name` or the file name. */
  readonly name: string;
  /** What the input holds; absent means `"pixels"` (every MNIST graph). */
  readonly inputKind?: InputKind;
  /**
   * Names of the output classes in output order (Magika's 113 content types); absent for the
   * MNIST models, whose classes are the digits 0..9.
   */
  readonly labels?: readonly string[];
}

/** The input kind of `graph` (`"pixels"` when its meta does not say). */
export function inputKind(graph: Graph): InputKind {
  return graph.meta.inputKind ?? "pixels";
}

/** Error raised when a graph would be invalid: names the node and the rule broken. */
export class GraphError extends Error {
  /**
   * @param node the name of the node being built
   * @param message what is wrong
   */
  constructor(readonly node: string, message: string) {
    super(`node '${node}': ${message}`);
    this.name = "GraphError";
  }
}

/** Number of elements of a shape. */
export function numel(ne: Ne): number {
  return ne[0] * ne[1] * ne[2] * ne[3];
}

/** Pads a shape of 1..4 dims to four with trailing 1s; checks positive integers. */
export function toNe(dims: readonly number[], name = "?"): Ne {
  if (dims.length < 1 || dims.length > 4) {
    throw new GraphError(name, `expected 1 to 4 dims, got ${dims.length}`);
  }
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 1) throw new GraphError(name, `bad dim ${d} in [${dims}]`);
  }
  return [dims[0]!, dims[1] ?? 1, dims[2] ?? 1, dims[3] ?? 1];
}

/** `[a,b,c,d]` with trailing 1s dropped, for printing. */
export function formatNe(ne: Ne): string {
  let n = 4;
  while (n > 1 && ne[n - 1] === 1) n--;
  return `[${ne.slice(0, n).join(",")}]`;
}

/** The permute axes of ggml_transpose (dims 0 and 1 swapped). */
export const TRANSPOSE_AXES = [1, 0, 2, 3] as const;

/** True when a permute's axes are ggml_transpose's. */
export function isTranspose(axes: readonly number[]): boolean {
  return axes.join() === "1,0,2,3";
}

/** Output size of a convolution or pool along one axis (ggml's formula). */
export function convOutSize(size: number, k: number, s: number, p: number, d = 1): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/**
 * Builds a {@link Graph} node by node, inferring and checking every shape.
 *
 * @example
 * ```ts
 * import { GraphBuilder } from "./graph.ts";
 * const b = new GraphBuilder();
 * const x = b.input("images", [784, 1]);
 * const w = b.weight("fc.weight", [784, 10], "f32", new Float32Array(7840));
 * const probs = b.softMax(b.mulMat(w, x), "probs");
 * const graph = b.build(x, probs, { layout: "demo", arch: "mnist-fc", name: "demo" });
 * console.log(graph.nodes.length); // 4
 * ```
 */
export class GraphBuilder {
  private readonly nodes: Node[] = [];

  /** The node with id `id`. */
  node(id: number): Node {
    const n = this.nodes[id];
    if (!n) throw new GraphError(`#${id}`, "no such node");
    return n;
  }

  private add(name: string, op: Op, src: number[], ne: Ne): number {
    for (const s of src) this.node(s);
    const id = this.nodes.length;
    this.nodes.push(
      Object.freeze({ id, name, op, src: Object.freeze(src), ne: Object.freeze(ne) }),
    );
    return id;
  }

  /** The graph input, raw pixels as f32. */
  input(name: string, dims: readonly number[]): number {
    return this.add(name, { kind: "input" }, [], toNe(dims, name));
  }

  /** A constant tensor; `values` must hold exactly the product of `dims` floats. */
  weight(name: string, dims: readonly number[], type: WeightType, values: Float32Array): number {
    const ne = toNe(dims, name);
    if (values.length !== numel(ne)) {
      throw new GraphError(name, `weight has ${values.length} values, shape needs ${numel(ne)}`);
    }
    return this.add(name, { kind: "weight", type, values }, [], ne);
  }

  /** ggml_mul_mat: a [K,M,a2,a3] x b [K,N,b2,b3] -> [M,N,b2,b3] (a broadcast over dims 2, 3). */
  mulMat(a: number, b: number, name = "mul_mat"): number {
    const A = this.node(a).ne, B = this.node(b).ne;
    if (A[0] !== B[0]) {
      throw new GraphError(
        name,
        `mul_mat needs equal ne[0] (K), got ${formatNe(A)} and ${formatNe(B)}`,
      );
    }
    if (B[2] % A[2] !== 0 || B[3] % A[3] !== 0) {
      throw new GraphError(name, `mul_mat cannot broadcast ${formatNe(A)} over ${formatNe(B)}`);
    }
    return this.add(name, { kind: "mul_mat" }, [a, b], [A[1], B[1], B[2], B[3]]);
  }

  /** ggml_add: b is repeated to a's shape; each a.ne[i] must be a multiple of b.ne[i]. */
  add_(a: number, b: number, name = "add"): number {
    return this.add(name, { kind: "add" }, [a, b], this.repeatShape("add", a, b, name));
  }

  /** ggml_mul: elementwise a * b, b repeated to a's shape as in {@link GraphBuilder.add_}. */
  mul(a: number, b: number, name = "mul"): number {
    return this.add(name, { kind: "mul" }, [a, b], this.repeatShape("mul", a, b, name));
  }

  /** ggml_can_repeat(b, a): every a.ne[i] a multiple of b.ne[i]; the result has a's shape. */
  private repeatShape(op: string, a: number, b: number, name: string): Ne {
    const A = this.node(a).ne, B = this.node(b).ne;
    for (let i = 0; i < 4; i++) {
      if (A[i]! % B[i]! !== 0) {
        throw new GraphError(name, `${op} cannot repeat ${formatNe(B)} to ${formatNe(A)}`);
      }
    }
    return A;
  }

  /** Elementwise max(x, 0). */
  relu(a: number, name = "relu"): number {
    return this.add(name, { kind: "relu" }, [a], this.node(a).ne);
  }

  /** ggml_gelu (tanh approximation), elementwise. */
  gelu(a: number, name = "gelu"): number {
    return this.add(name, { kind: "gelu" }, [a], this.node(a).ne);
  }

  /** ggml_norm: each row along ne[0] to mean 0, variance 1 (variance + eps under the root). */
  norm(a: number, eps: number, name = "norm"): number {
    if (!Number.isFinite(eps) || eps < 0) {
      throw new GraphError(name, `norm eps must be a finite number >= 0, got ${eps}`);
    }
    return this.add(name, { kind: "norm", eps }, [a], this.node(a).ne);
  }

  /** One-hot: tokens [n0,n1,n2] (integers 0..depth-1 as f32) -> [depth,n0,n1,n2]. */
  oneHot(tokens: number, depth: number, name = "one_hot"): number {
    const T = this.node(tokens).ne;
    if (!Number.isSafeInteger(depth) || depth < 1 || depth > 1 << 24) {
      throw new GraphError(name, `one_hot depth must be an integer 1..2^24, got ${depth}`);
    }
    if (T[3] !== 1) {
      throw new GraphError(name, `one_hot takes tokens of at most 3 dims, got ${formatNe(T)}`);
    }
    return this.add(name, { kind: "one_hot", depth }, [tokens], [depth, T[0], T[1], T[2]]);
  }

  /** ggml_get_rows: a [ne0,rows,a2,a3], idx [n,a2,a3] -> [ne0,n,a2,a3]. */
  getRows(a: number, idx: number, name = "get_rows"): number {
    const A = this.node(a).ne, I = this.node(idx).ne;
    if (I[3] !== 1 || A[2] !== I[1] || A[3] !== I[2]) {
      throw new GraphError(
        name,
        `get_rows needs idx [n,a.ne2,a.ne3] for a ${formatNe(A)}, got idx ${formatNe(I)}`,
      );
    }
    return this.add(name, { kind: "get_rows" }, [a, idx], [A[0], I[0], I[1], I[2]]);
  }

  softMax(a: number, name = "soft_max"): number {
    return this.add(name, { kind: "soft_max" }, [a], this.node(a).ne);
  }

  /** Elementwise x * factor. */
  scale(a: number, factor: number, name = "scale"): number {
    if (!Number.isFinite(factor)) {
      throw new GraphError(name, `scale factor ${factor} is not finite`);
    }
    return this.add(name, { kind: "scale", factor }, [a], this.node(a).ne);
  }

  /** ggml_conv_2d(kernel [KW,KH,Cin,Cout], input [W,H,Cin,N]) -> [OW,OH,Cout,N]. */
  conv2d(kernel: number, input: number, p: Conv2dParams, name = "conv_2d"): number {
    const K = this.node(kernel).ne, X = this.node(input).ne;
    if (K[2] !== X[2]) {
      throw new GraphError(
        name,
        `conv_2d kernel ${formatNe(K)} has Cin ${K[2]}, input ${formatNe(X)} has ${X[2]}`,
      );
    }
    for (const v of [p.s0, p.s1, p.d0, p.d1]) {
      if (!Number.isInteger(v) || v < 1) {
        throw new GraphError(name, `stride/dilation must be >= 1, got ${v}`);
      }
    }
    for (const v of [p.p0, p.p1]) {
      if (!Number.isInteger(v) || v < 0) {
        throw new GraphError(name, `padding must be >= 0, got ${v}`);
      }
    }
    const ow = convOutSize(X[0], K[0], p.s0, p.p0, p.d0);
    const oh = convOutSize(X[1], K[1], p.s1, p.p1, p.d1);
    if (ow < 1 || oh < 1) throw new GraphError(name, `conv_2d output would be empty (${ow}x${oh})`);
    const op: Op = { kind: "conv_2d", s0: p.s0, s1: p.s1, p0: p.p0, p1: p.p1, d0: p.d0, d1: p.d1 };
    return this.add(name, op, [kernel, input], [ow, oh, K[3], X[3]]);
  }

  /** ggml_pool_2d: [W,H,C,N] -> [OW,OH,C,N] with OW = (W + 2*p0 - k0) / s0 + 1. */
  pool2d(input: number, p: Pool2dParams, name = "pool_2d"): number {
    const X = this.node(input).ne;
    for (const v of [p.k0, p.k1, p.s0, p.s1]) {
      if (!Number.isInteger(v) || v < 1) {
        throw new GraphError(name, `pool kernel/stride must be >= 1, got ${v}`);
      }
    }
    for (const v of [p.p0, p.p1]) {
      if (!Number.isInteger(v) || v < 0) {
        throw new GraphError(name, `padding must be >= 0, got ${v}`);
      }
    }
    const ow = convOutSize(X[0], p.k0, p.s0, p.p0);
    const oh = convOutSize(X[1], p.k1, p.s1, p.p1);
    if (ow < 1 || oh < 1) throw new GraphError(name, `pool_2d output would be empty (${ow}x${oh})`);
    const op: Op = {
      kind: "pool_2d",
      pool: p.pool,
      k0: p.k0,
      k1: p.k1,
      s0: p.s0,
      s1: p.s1,
      p0: p.p0,
      p1: p.p1,
    };
    return this.add(name, op, [input], [ow, oh, X[2], X[3]]);
  }

  /** ggml_pool_1d over ne[0]: [W,a1,a2,a3] -> [OW,a1,a2,a3] with OW = (W + 2*p0 - k0) / s0 + 1. */
  pool1d(input: number, p: Pool1dParams, name = "pool_1d"): number {
    const X = this.node(input).ne;
    for (const v of [p.k0, p.s0]) {
      if (!Number.isInteger(v) || v < 1) {
        throw new GraphError(name, `pool kernel/stride must be >= 1, got ${v}`);
      }
    }
    if (!Number.isInteger(p.p0) || p.p0 < 0) {
      throw new GraphError(name, `padding must be >= 0, got ${p.p0}`);
    }
    const ow = convOutSize(X[0], p.k0, p.s0, p.p0);
    if (ow < 1) throw new GraphError(name, `pool_1d output would be empty (${ow})`);
    const op: Op = { kind: "pool_1d", pool: p.pool, k0: p.k0, s0: p.s0, p0: p.p0 };
    return this.add(name, op, [input], [ow, X[1], X[2], X[3]]);
  }

  /** ggml_transpose: swaps ne[0] and ne[1]; a `permute` with axes [1,0,2,3]. */
  transpose(a: number, name = "transpose"): number {
    return this.permute(a, TRANSPOSE_AXES, name);
  }

  /** ggml_permute: source dim i goes to result dim axes[i]; axes is a permutation of 0..3. */
  permute(a: number, axes: readonly [number, number, number, number], name = "permute"): number {
    const A = this.node(a).ne;
    if ([...axes].sort().join() !== "0,1,2,3") {
      throw new GraphError(name, `permute axes [${axes}] are not a permutation of 0..3`);
    }
    const ne = [1, 1, 1, 1];
    for (let i = 0; i < 4; i++) ne[axes[i]!] = A[i]!;
    return this.add(name, { kind: "permute", axes }, [a], ne as unknown as Ne);
  }

  /** ggml_cont: makes a permuted view contiguous (values unchanged). */
  cont(a: number, name = "cont"): number {
    return this.add(name, { kind: "cont" }, [a], this.node(a).ne);
  }

  /** ggml_reshape: same elements, new shape. */
  reshape(a: number, dims: readonly number[], name = "reshape"): number {
    const A = this.node(a).ne, ne = toNe(dims, name);
    if (numel(A) !== numel(ne)) {
      throw new GraphError(
        name,
        `reshape ${formatNe(A)} to ${formatNe(ne)} changes the element count`,
      );
    }
    return this.add(name, { kind: "reshape" }, [a], ne);
  }

  /** Freezes the nodes built so far into a graph. */
  build(input: number, output: number, meta: GraphMeta): Graph {
    if (this.node(input).op.kind !== "input") {
      throw new GraphError(this.node(input).name, "is not an input");
    }
    this.node(output);
    return Object.freeze({ nodes: Object.freeze([...this.nodes]), input, output, meta });
  }
}

/** The ids of the nodes that `graph.output` depends on, in topological order. */
export function liveNodes(graph: Graph): number[] {
  const live = new Uint8Array(graph.nodes.length);
  live[graph.output] = 1;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    if (!live[i]) continue;
    for (const s of graph.nodes[i]!.src) live[s] = 1;
  }
  const out: number[] = [];
  for (let i = 0; i < live.length; i++) if (live[i]) out.push(i);
  return out;
}
