/**
 * The kernel registry: every kernel family the compiler has, one line each. Lowering, the
 * memory planner, `--plan`, the compile report and the graph pictures find a kernel's facts here
 * by its `kind`. A new family is one file in this folder plus its line in {@link Kernel} and
 * {@link KERNELS} (see ARCHITECTURE.md, "How to add an op").
 *
 * @module
 */
import type { Node, OpKind } from "../ir/graph.ts";
import { conv2d, type ConvKernel } from "./conv2d.ts";
import { dense, type DenseKernel } from "./dense.ts";
import { gather, type GatherKernel } from "./gather.ts";
import { gemm, type GemmKernel } from "./gemm.ts";
import { norm, type NormKernel } from "./norm.ts";
import { pool1d, type Pool1dKernel } from "./pool1d.ts";
import type { KernelBase, KernelDef } from "./kernel.ts";
import { pool2d, type PoolKernel } from "./pool2d.ts";

/** One call of the plan: a kernel of any registered family. */
export type Kernel =
  | ConvKernel
  | PoolKernel
  | DenseKernel
  | GemmKernel
  | GatherKernel
  | NormKernel
  | Pool1dKernel;

/** Every family; where several start at one op, the first that accepts a node takes it. */
export const KERNELS = [
  conv2d,
  pool2d,
  gemm,
  dense,
  gather,
  norm,
  pool1d,
] as const;

/** The definition of some family (each entry of {@link KERNELS}). */
export type AnyKernelDef = (typeof KERNELS)[number];

const byKind = new Map<string, AnyKernelDef>(KERNELS.map((d) => [d.kind, d]));
const byOp = new Map<OpKind, AnyKernelDef[]>();
for (const d of KERNELS) for (const op of d.startsAt) byOp.set(op, [...byOp.get(op) ?? [], d]);

/**
 * The family of a kernel call.
 *
 * @param k a kernel call of the plan
 * @returns its definition
 * @example
 * ```ts ignore
 * const macs = plan.kernels.reduce((s, k) => s + kernelDef(k).macs(k), 0);
 * ```
 */
export function kernelDef<K extends KernelBase>(k: K): KernelDef<K> {
  const def = byKind.get(k.kind);
  if (!def) throw new Error(`no kernel family '${k.kind}' is registered`);
  return def as unknown as KernelDef<K>;
}

/**
 * The family whose call starts at `node`, if any: the first in {@link KERNELS} that starts at
 * its op and accepts it.
 *
 * @param node a graph node lowering has reached
 * @param nodes the graph's nodes (for its operands' shapes)
 * @returns the family, or undefined when no family starts at this op
 */
export function familyFor(node: Node, nodes: readonly Node[]): KernelDef<Kernel> | undefined {
  const family = byOp.get(node.op.kind)?.find((d) =>
    (d as KernelDef<Kernel>).accepts?.(node, nodes) ?? true
  );
  // Each family's `lower` returns its own kind, so the union view of it is sound.
  return family as KernelDef<Kernel> | undefined;
}

/**
 * Multiply-adds of one call.
 *
 * @param k the kernel
 * @returns MACs per run
 */
export function kernelMacs(k: Kernel): number {
  return kernelDef(k).macs(k);
}
