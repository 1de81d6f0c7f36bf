/**
 * Plan pass `dead-work`: compute only what is consumed. A pool whose windows stop short of
 * the conv grid's edge (2x2/2 over 11x11 reads 10x10) never reads the last row and column, so
 * the conv that feeds it computes a smaller grid. For a conv with a fused pool that is the
 * `compute` region; for a conv feeding standalone pools the conv's output buffer shrinks too.
 * Exact: the dropped values were never read.
 *
 * @module
 */
import {
  align16,
  type ConvKernel,
  type ImageLayout,
  type Kernel,
  layoutFloats,
  type Plan,
  type PoolSpec,
} from "./plan.ts";

/** Grid extent a pool with `p` and `out` outputs reads along one axis, capped at `size`. */
function extent(size: number, out: number, k: number, s: number, p: number): number {
  return Math.min(size, (out - 1) * s - p + k);
}

function reads(pool: PoolSpec, out: ImageLayout, w: number, h: number): [number, number] {
  return [extent(w, out.w, pool.k0, pool.s0, pool.p0), extent(h, out.h, pool.k1, pool.s1, pool.p1)];
}

/**
 * Shrinks every conv's computed grid to what its consumers read.
 *
 * @param plan the plan (not modified)
 * @returns the new plan
 */
export function eliminateDeadWork(plan: Plan): Plan {
  const kernels: Kernel[] = plan.kernels.map((k) => ({ ...k }));
  const buffers = plan.buffers.map((b) => ({ ...b }));
  for (let i = 0; i < kernels.length; i++) {
    const k = kernels[i]!;
    if (k.kind !== "conv2d") continue;
    if (k.pool) {
      [k.computeW, k.computeH] = reads(k.pool, k.output, k.convW, k.convH);
      continue;
    }
    const consumers = kernels.filter((c) => c.src === k.dst);
    if (k.dst === plan.output || consumers.length === 0) continue;
    if (!consumers.every((c) => c.kind === "pool2d")) continue;
    let w = 0, h = 0;
    for (const c of consumers) {
      if (c.kind !== "pool2d") continue;
      const [cw, ch] = reads(c.pool, c.output, k.convW, k.convH);
      w = Math.max(w, cw);
      h = Math.max(h, ch);
    }
    if (w === k.convW && h === k.convH) continue;
    const output: ImageLayout = { ...k.output, w, h };
    kernels[i] = { ...k, output, computeW: w, computeH: h } as ConvKernel;
    for (let j = 0; j < kernels.length; j++) {
      const c = kernels[j]!;
      if (c.src === k.dst && c.kind === "pool2d") kernels[j] = { ...c, input: output };
    }
    buffers[k.dst] = { ...buffers[k.dst]!, bytes: align16(layoutFloats(output) * 4) };
  }
  return { ...plan, kernels, buffers };
}
