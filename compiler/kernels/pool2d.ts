/**
 * Kernel family `pool2d`: a `pool_2d` on its own, channels-last in and out. Only pools whose
 * windows overlap get here; the others are fused into the convolution before them.
 *
 * @module
 */
import type { Node } from "../ir/graph.ts";
import type { KernelBase, KernelDef, LowerContext, Lowered } from "./kernel.ts";
import { type ImageLayout, layoutFloats, layoutShape, type PoolSpec } from "./layout.ts";

/** A pool on its own (its windows overlap, so it is not fused into the conv). */
export interface PoolKernel extends KernelBase {
  readonly kind: "pool2d";
  readonly input: ImageLayout;
  readonly output: ImageLayout;
  readonly pool: PoolSpec;
}

function lowerPool(node: Node, ctx: LowerContext): Lowered<PoolKernel> {
  if (node.op.kind !== "pool_2d") throw new Error("unreachable");
  const input = ctx.imageInput(node.src[0]!, node);
  const output: ImageLayout = {
    kind: "image",
    w: node.ne[0],
    h: node.ne[1],
    c: input.c,
    cp: input.cp,
  };
  const dst = ctx.newBuffer(node.name, "activation", layoutFloats(output));
  const kernel: PoolKernel = {
    kind: "pool2d",
    nodes: [node.name],
    src: ctx.valueOf(node.src[0]!, node).buf,
    dst,
    input,
    output,
    pool: node.op,
  };
  return { kernel, last: node };
}

/** The `pool2d` family. */
export const pool2d: KernelDef<PoolKernel> = {
  kind: "pool2d",
  startsAt: ["pool_2d"],
  lower: lowerPool,
  macs: () => 0,
  auxBuffers: () => [],
  describe: (k) =>
    `pool2d ${k.pool.pool} ${k.pool.k0}x${k.pool.k1}/${k.pool.s0}  ${layoutShape(k.input)} -> ${
      layoutShape(k.output)
    }`,
  title: (k) => `${k.pool.pool} pool ${k.pool.k0}x${k.pool.k1}/${k.pool.s0}`,
  inputLayout: (k) => k.input,
  outputLayout: (k) => k.output,
  nonNegativeOutput: (_k, inputNonNegative) => inputNonNegative, // max/avg of values >= 0
  constBytes: () => 0,
  weightLabel: () => undefined,
};
