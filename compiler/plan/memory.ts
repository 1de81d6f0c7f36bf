/**
 * Plan pass `memory`: static memory planning. Each buffer's lifetime is the span of kernel
 * calls from the one that writes it to the last that reads it (the input is live from before
 * the first call, the output until after the last). Buffers are placed largest first, each at
 * the lowest 16-byte-aligned offset that does not overlap a buffer live at the same time, in
 * one arena. Reports the arena against the naive sum and the live-set lower bound.
 *
 * @module
 */
import { kernelDef } from "../kernels/registry.ts";
import type { MemoryReport, Plan, PlanBuffer } from "./plan.ts";

/**
 * Computes each buffer's [first, last] kernel index. A kernel's extra buffers (scratch,
 * staging: whatever its family lists) are live during its call.
 *
 * @param plan the plan
 * @returns lifetimes indexed by buffer id
 */
export function lifetimes(plan: Plan): { buffer: number; first: number; last: number }[] {
  const n = plan.kernels.length;
  const life = plan.buffers.map((b) => ({ buffer: b.id, first: Infinity, last: -Infinity }));
  const use = (buf: number, t: number) => {
    const l = life[buf]!;
    l.first = Math.min(l.first, t);
    l.last = Math.max(l.last, t);
  };
  use(plan.input, -1);
  use(plan.output, n);
  plan.kernels.forEach((k, t) => {
    use(k.src, t);
    use(k.dst, t);
    for (const aux of kernelDef(k).auxBuffers(k)) use(aux.buffer, t);
  });
  return life.filter((l) => l.first <= l.last);
}

/**
 * Places every buffer in one arena.
 *
 * @param plan the plan (not modified)
 * @returns the plan with buffer offsets, `arenaBytes` and a {@link MemoryReport}
 */
export function planMemory(plan: Plan): Plan {
  const life = lifetimes(plan);
  const buffers: PlanBuffer[] = plan.buffers.map((b) => ({ ...b, offset: -1 }));
  const order = [...life].sort((a, b) =>
    buffers[b.buffer]!.bytes - buffers[a.buffer]!.bytes || a.buffer - b.buffer
  );
  const placed: { first: number; last: number; offset: number; end: number }[] = [];
  let arena = 0;
  for (const l of order) {
    const b = buffers[l.buffer]!;
    const clashes = placed
      .filter((p) => p.first <= l.last && l.first <= p.last)
      .sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const c of clashes) {
      if (offset + b.bytes <= c.offset) break;
      offset = Math.max(offset, c.end);
    }
    b.offset = offset;
    placed.push({ first: l.first, last: l.last, offset, end: offset + b.bytes });
    arena = Math.max(arena, offset + b.bytes);
  }
  let lowerBound = 0;
  for (let t = -1; t <= plan.kernels.length; t++) {
    let live = 0;
    for (const l of life) if (l.first <= t && t <= l.last) live += buffers[l.buffer]!.bytes;
    lowerBound = Math.max(lowerBound, live);
  }
  const memory: MemoryReport = {
    naiveBytes: life.reduce((s, l) => s + buffers[l.buffer]!.bytes, 0),
    lowerBoundBytes: lowerBound,
    lifetimes: life,
  };
  return { ...plan, buffers, arenaBytes: arena, memory };
}
