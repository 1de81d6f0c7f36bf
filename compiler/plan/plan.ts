/**
 * The plan IR: what the code generators consume. A plan is a flat list of fused kernel calls
 * with constant shapes, reading and writing buffers that the memory pass places at fixed,
 * 16-byte-aligned offsets of one arena. Weights are already in the layout the kernels want
 * (channels-last convolution kernels, dense weights with rows in the order the input buffer is
 * laid out), converted to f32 once at compile time.
 *
 * What each kind of call is and does is in its kernel family's file (compiler/kernels/); this file
 * holds the plan around them.
 *
 * @module
 */
import type { Kernel } from "../kernels/registry.ts";
import { kernelDef } from "../kernels/registry.ts";
import type { PlanBuffer } from "../kernels/layout.ts";
import type { QuantCompute } from "../kernels/dense.ts";

/** Storage type of the weights in an emitted module (`ggufc compile --weights`). */
export type WeightFormat = "f32" | "f16" | "q8_0" | "q4_0";

// The kernel families and the layouts they share live in compiler/kernels/; re-exported here so
// a consumer of plans has one import.
export type { ConvBias, ConvKernel } from "../kernels/conv2d.ts";
export type { DenseKernel, DenseQuant, QuantCompute } from "../kernels/dense.ts";
export type { PoolKernel } from "../kernels/pool2d.ts";
export type { GemmActivation, GemmKernel, GemmQuant } from "../kernels/gemm.ts";
export type { GatherKernel } from "../kernels/gather.ts";
export type { NormKernel } from "../kernels/norm.ts";
export type { Pool1dKernel } from "../kernels/pool1d.ts";
export type { Strided2d } from "../kernels/layout.ts";
export type { FlatLayout, ImageLayout, Layout, PlanBuffer, PoolSpec } from "../kernels/layout.ts";
export { align16, CompileError, layoutFloats, padChannels } from "../kernels/layout.ts";
export { convPositions } from "../kernels/conv2d.ts";
export { kernelMacs } from "../kernels/registry.ts";
export type { Kernel };

/** The whole compiled computation for one image. */
export interface Plan {
  readonly name: string;
  readonly arch: string;
  readonly layout: string;
  /** Input elements (784 for MNIST), raw values as the graph's input takes them. */
  readonly inputLength: number;
  /** The graph input's shape in ggml order, e.g. [28, 28] or [784]. */
  readonly inputShape: readonly number[];
  /** Output elements (10 probabilities). */
  readonly outputLength: number;
  /** What the input holds (absent: pixels). */
  readonly inputKind?: "pixels" | "byte-tokens";
  /** Names of the output classes, when the model has them (Magika's content types). */
  readonly labels?: readonly string[];
  readonly buffers: PlanBuffer[];
  readonly kernels: Kernel[];
  readonly input: number;
  readonly output: number;
  /** Total arena size in bytes; 0 until the memory pass runs. */
  arenaBytes: number;
  /** Memory figures from the memory pass. */
  memory?: MemoryReport;
}

/** What the memory planner achieved. */
export interface MemoryReport {
  /** Arena bytes with every buffer in its own place (sum of all). */
  readonly naiveBytes: number;
  /** The most bytes live at one moment: no placement can do better. */
  readonly lowerBoundBytes: number;
  /** For each buffer, the first and last kernel index that uses it (-1: before the first). */
  readonly lifetimes: readonly { buffer: number; first: number; last: number }[];
}

/**
 * The plan as text, one line per kernel call: op, fused nodes, shapes, arena offsets, bytes,
 * FLOPs; then the buffers and the memory summary. This is what `ggufc compile --plan` prints.
 *
 * @param plan the plan
 * @returns the listing
 */
export function renderPlan(plan: Plan): string {
  const buf = (id: number) => plan.buffers[id]!;
  const at = (id: number) => `@${buf(id).offset}+${buf(id).bytes}`;
  const lines = [`plan for ${plan.name} (${plan.layout}): ${plan.kernels.length} kernel calls`];
  let total = 0;
  plan.kernels.forEach((k, i) => {
    const def = kernelDef(k);
    const flops = 2 * def.macs(k);
    total += flops;
    lines.push(
      `  ${String(i).padStart(2)}: ${def.describe(k)}`,
      `      in ${at(k.src)}  out ${at(k.dst)}  weights ${def.constBytes(k)} B  ${flops} FLOPs  [${
        k.nodes.map((n) => JSON.stringify(n)).join(", ")
      }]`,
    );
  });
  lines.push(`  total ${total} FLOPs (${total / 2} multiply-adds) per image`);
  lines.push("buffers:");
  for (const b of plan.buffers) {
    lines.push(
      `  b${b.id} ${b.role.padEnd(10)} @${b.offset} ${b.bytes} B  ${JSON.stringify(b.name)}`,
    );
  }
  if (plan.memory) {
    lines.push(
      `arena ${plan.arenaBytes} bytes (naive ${plan.memory.naiveBytes}, lower bound ${plan.memory.lowerBoundBytes})`,
    );
  }
  return lines.join("\n");
}

/**
 * One plan-to-plan optimisation (after lowering). Returns a new plan and never mutates its
 * input; `options` are the user's choices that a pass may depend on (e.g. `--weights`).
 */
export interface PlanPass {
  readonly name: string;
  readonly description: string;
  run(
    plan: Plan,
    options: { readonly weights: WeightFormat; readonly quantCompute: QuantCompute },
  ): Plan;
}
