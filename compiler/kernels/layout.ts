/**
 * What every kernel of the plan shares: activation layouts, arena buffers, the error for what
 * cannot be compiled, and the rounding rules of both.
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

/** A layout as the plan listing prints it: `26x26x32`, `13x13x3(4)`, `1600`. */
export function layoutShape(l: Layout): string {
  return l.kind === "image" ? `${l.w}x${l.h}x${l.c}${l.cp !== l.c ? `(${l.cp})` : ""}` : `${l.n}`;
}

/** A 2-D view of a buffer: element (i, j), i < n0 fastest, is at float `base + i * s0 + j * s1`. */
export interface Strided2d {
  readonly base: number;
  readonly s0: number;
  readonly s1: number;
}

/**
 * The strides of an index map, when it has them: `map[i + n0 * j] = base + i * s0 + j * s1` for
 * every i < n0, j < n1 (views lowered from reshape/transpose/cont are of this kind).
 *
 * @param map physical float index of each logical element, i fastest
 * @param n0 logical length along i
 * @param n1 logical length along j
 * @returns the strides, or undefined when the map is not affine
 */
export function strided2d(map: Int32Array, n0: number, n1: number): Strided2d | undefined {
  if (map.length !== n0 * n1) return undefined;
  const base = map[0]!;
  const s0 = n0 > 1 ? map[1]! - base : 1;
  const s1 = n1 > 1 ? map[n0]! - base : n0;
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) {
      if (map[i + n0 * j] !== base + i * s0 + j * s1) return undefined;
    }
  }
  return { base, s0, s1 };
}

/** The index map of a strided view (the inverse of {@link strided2d}). */
export function stridedMap(v: Strided2d, n0: number, n1: number): Int32Array {
  const map = new Int32Array(n0 * n1);
  for (let j = 0; j < n1; j++) {
    for (let i = 0; i < n0; i++) map[i + n0 * j] = v.base + i * v.s0 + j * v.s1;
  }
  return map;
}
