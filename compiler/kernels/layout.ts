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
