/**
 * What a kernel family says about itself. Every pass, listing and picture that needs a fact
 * about a kernel asks its {@link KernelDef} (through `registry.ts`) instead of switching on kinds
 * or knowing its fields by name: the memory planner asks for its extra buffers, `--plan` and the
 * graph pictures for its description, the compile report for its multiply-adds.
 *
 * A family also lowers itself: lowering walks the graph and, at a node whose op starts a
 * family ({@link KernelDef.startsAt}), hands over to that family's `lower`, which fuses the
 * chain it can absorb and returns one kernel call. {@link LowerContext} is what lowering offers
 * it: buffers, the values computed so far, the single consumer of a node.
 *
 * @module
 */
import type { Node, OpKind } from "../ir/graph.ts";
import type { ImageLayout, Layout, PlanBuffer } from "./layout.ts";

/** The fields every kernel call of the plan has. */
export interface KernelBase {
  /** The family, e.g. `conv2d`; the key of the registry. */
  readonly kind: string;
  /** Names of the graph nodes fused into this call, first to last. */
  readonly nodes: readonly string[];
  /** Buffer read. */
  readonly src: number;
  /** Buffer written. */
  readonly dst: number;
}

/** A buffer a kernel uses besides `src` and `dst`, and what for (shown in pictures). */
export interface AuxBuffer {
  /** e.g. "scratch" (an index list) or "staging" (a zero-padded copy of the input). */
  readonly use: string;
  readonly buffer: number;
}

/** Where a graph value lives after lowering: a buffer and its layout. */
export interface LoweredValue {
  readonly buf: number;
  readonly layout: Layout;
}

/** What lowering offers a family's `lower`. */
export interface LowerContext {
  /** The graph's nodes, by id. */
  readonly nodes: readonly Node[];
  /** A new arena buffer of `floats` floats (rounded up to 16 bytes); returns its id. */
  newBuffer(name: string, role: PlanBuffer["role"], floats: number): number;
  /** Node `id`, which must be a constant operand of `user` (else a CompileError). */
  weightOf(id: number, user: Node): Node;
  /** The single consumer of `id` when a fused chain may continue through it. */
  next(id: number): Node | undefined;
  /** Where the value of node `id` is, as `user` reads it (a CompileError if not computed). */
  valueOf(id: number, user: Node): LoweredValue;
  /** The physical float index of each logical element of node `id`'s value (views resolved). */
  physicalMap(id: number, user: Node): Int32Array;
  /** The layout of node `id` as a plain channels-last image (a CompileError for a view). */
  imageInput(id: number, user: Node): ImageLayout;
}

/** A lowered chain: the kernel call and the last graph node it absorbed. */
export interface Lowered<K extends KernelBase> {
  readonly kernel: K;
  readonly last: Node;
}

/** Everything the compiler knows about one kernel family, in one place. */
export interface KernelDef<K extends KernelBase> {
  /** The plan kind this family defines. */
  readonly kind: K["kind"];
  /** Graph ops that start a call of this family when lowering reaches them. */
  readonly startsAt: readonly OpKind[];
  /**
   * Whether this family takes `node` (one of its `startsAt` ops) when several families start at
   * the same op (e.g. `mul_mat` of one vector: `dense`; of a matrix: `gemm`). Absent: always.
   */
  accepts?(node: Node, nodes: readonly Node[]): boolean;
  /** Lowers the chain starting at `node`. */
  lower(node: Node, ctx: LowerContext): Lowered<K>;
  /** Multiply-adds per run (what `--plan` and the report count). */
  macs(k: K): number;
  /** Buffers besides `src` and `dst` (the memory planner keeps them live during the call). */
  auxBuffers(k: K): readonly AuxBuffer[];
  /** One line for `compile --plan`. */
  describe(k: K): string;
  /** A short title for pictures: `conv2d 3x3/1 p1 + bias + relu + max pool 2x2/2`. */
  title(k: K): string;
  /** The layout in which the call reads `src`. */
  inputLayout(k: K): Layout;
  /** The layout in which it writes `dst`. */
  outputLayout(k: K): Layout;
  /**
   * Where each logical element of the result is in `dst` (ggml order, ne[0] fastest), when that
   * is not the output layout's own order (e.g. a result written transposed, so the transpose
   * after it moves no data). Absent: the layout's order.
   */
  outputMap?(k: K): Int32Array;
  /** Bytes of constants (weights, bias) as the plan holds them. */
  constBytes(k: K): number;
  /** Whether every output value is >= 0, given whether every input value is (e.g. after relu). */
  nonNegativeOutput(k: K, inputNonNegative: boolean): boolean;
  /**
   * How the call holds the constant `weight` that graph node `use` read (a picture's edge
   * label: layout and bytes), or undefined when it did not absorb it.
   */
  weightLabel(k: K, weight: Node, use: Node): { layout: string; bytes: number } | undefined;
}
