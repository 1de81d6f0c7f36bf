/**
 * The code-generator registry: each kernel family's code (codegen/<family>.ts) under its plan
 * kind. The table's type lists every kind of the plan's `Kernel` union, so a family registered
 * in compiler/kernels/registry.ts without code here does not type-check.
 *
 * @module
 */
import type { Kernel } from "../plan/plan.ts";
import { conv2dCodegen } from "./conv2d.ts";
import { denseCodegen } from "./dense.ts";
import { gatherCodegen } from "./gather.ts";
import { gemmCodegen } from "./gemm.ts";
import { normCodegen } from "./norm.ts";
import { pool1dCodegen } from "./pool1d.ts";
import type { KernelCodegen } from "./kernel_codegen.ts";
import { pool2dCodegen } from "./pool2d.ts";

/** One entry per plan kind, typed by the kernel of that kind. */
type CodegenTable = {
  readonly [P in Kernel["kind"]]: KernelCodegen<Extract<Kernel, { kind: P }>>;
};

const CODEGEN: CodegenTable = {
  conv2d: conv2dCodegen,
  pool2d: pool2dCodegen,
  dense: denseCodegen,
  gemm: gemmCodegen,
  gather: gatherCodegen,
  norm: normCodegen,
  pool1d: pool1dCodegen,
};

/**
 * The code generators of a kernel call's family.
 *
 * @param k a kernel call of the plan
 * @returns its family's WASM and TS generators
 */
export function codegenOf<K extends Kernel>(k: K): KernelCodegen<K> {
  return CODEGEN[k.kind as K["kind"]] as unknown as KernelCodegen<K>;
}
