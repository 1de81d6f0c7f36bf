/**
 * The WASM backend: the plan as one WebAssembly module with SIMD128 kernels specialised to
 * the plan's constant shapes and offsets. Two variants come from the same code: one using the
 * relaxed-SIMD FMA (`f32x4.relaxed_madd`) and one with plain `f32x4.mul` + `f32x4.add`; the
 * emitted module validates the relaxed one at load and falls back to the plain one.
 *
 * Memory: the arena at byte 0, then the kernels' shared scratch area, then the weights (copied
 * in once at load from the module's weights section, shared by both variants). Fixed size, no
 * growth.
 *
 * This file is the driver: each call's family (registry.ts, codegen/<family>.ts) packs its
 * constants, decides its strategy once and writes one function `k<i>` per call; `run` calls
 * them in plan order.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Plan } from "../plan/plan.ts";
import { encodeMemoryModule, encodeModule, Fn } from "../../wasm/assembler.ts";
import { WeightBlob } from "./weights_blob.ts";
import type { WasmKernels } from "./backend_output.ts";
import type { WasmContext } from "./kernel_codegen.ts";
import { codegenOf } from "./registry.ts";
import { wasmBatch } from "./batch_wasm.ts";

/** Options of {@link generateWasm}. */
export interface WasmOptions {
  /** Also emit the relaxed-SIMD FMA variant (used when the engine validates it). */
  readonly relaxed: boolean;
  /** Use Winograd F(2x2,3x3) for the convs it fits (default true). */
  readonly winograd?: boolean;
  /**
   * The batch path (`runBatch`, batch_wasm.ts): images per chunk, `false` for none; default:
   * chosen from the batch arena's size.
   */
  readonly batch?: number | false;
  /** Variants that run eligible convs in int8 (conv2d_int8.ts); default neither. */
  readonly int8Conv?: WasmContext["int8Conv"];
  /**
   * `--split`: the weights go into a separate WASM module (a memory with them as a data
   * segment, `weightsModule`) and the kernels import that memory instead of defining one.
   */
  readonly split?: boolean;
}

/**
 * Generates the WASM backend for `plan`.
 *
 * @param plan a plan whose memory is placed
 * @param options whether to add the relaxed-SIMD variant
 * @returns the weights section, the kernels in both encodings and where the weights go
 * @throws CompileError for a kernel shape this backend does not cover (e.g. dilation)
 */
export function generateWasm(plan: Plan, options: WasmOptions): WasmKernels {
  const blob = new WeightBlob();
  const winograd = options.winograd !== false;
  const int8Conv = options.int8Conv ?? { relaxed: false, plain: false };
  // Kernel scratch (e.g. Winograd tiles) sits between the arena and the weights.
  const scratchAt = Math.ceil(plan.arenaBytes / 16) * 16;
  const scratchBytes = Math.max(
    0,
    ...plan.kernels.map((k) => codegenOf(k).wasm.scratchBytes(k, { plan, winograd, int8Conv })),
  );
  const weightsAt = scratchAt + scratchBytes;
  const ctx: WasmContext = { plan, scratchAt, winograd, int8Conv };
  const strategies = plan.kernels.map((k) => codegenOf(k).wasm.prepare(k, blob, weightsAt, ctx));
  // The batch arena goes after the weights, so the batch-1 memory map stays as it was.
  const batch = options.batch === false ? undefined : wasmBatch(
    plan,
    strategies,
    Math.ceil((weightsAt + blob.byteLength) / 64) * 64,
    options.batch,
  );
  const pages = Math.max(1, Math.ceil((batch?.end ?? weightsAt + blob.byteLength) / 65536));
  const build = (fma: boolean) => {
    const functions = plan.kernels.map((k, i) => ({
      name: `k${i}`,
      fn: codegenOf(k).wasm.fn(k, strategies[i], fma, ctx),
    }));
    const run = new Fn();
    functions.forEach((_, i) => run.call(1 + i));
    const batchFns = batch?.functions(fma, 1 + functions.length + 1) ?? [];
    return encodeModule({
      imports: [["m", "exp"]],
      functions: [...functions, { name: "run", fn: run }, ...batchFns],
      pages,
      ...(options.split ? { importMemory: true } : {}),
    });
  };
  const plain = build(false);
  const relaxed = options.relaxed ? build(true) : undefined;
  // The loader (compiler/emit/runtime/wasm_loader.ts) picks the variant, copies the weights to
  // weightsAt and reads the arena at 0; the emitter writes these fields into the module.
  const weights = blob.bytes();
  return {
    target: "wasm",
    weights,
    simd: plain,
    ...(relaxed ? { relaxed } : {}),
    weightsAt,
    weightBytes: weights.length,
    pages,
    codeBytes: plain.length + (relaxed?.length ?? 0),
    notes: [
      ...plan.kernels.map((k, i) => `k${i}: ${codegenOf(k).wasm.describe(k, strategies[i])}`),
      ...(batch?.notes ?? []),
    ],
    ...(batch ? { batch: batch.layout } : {}),
    ...(options.split ? { weightsModule: weightsModule(pages, weightsAt, weights) } : {}),
  };
}

/**
 * The `--split` weights module, with the id a module checks it against before using it: the
 * sha256 of the weights, in the "ggufc.weights" custom section (the name the runtime's
 * weights_file.ts reads), so a `.wasm` from another compile is refused instead of giving wrong
 * answers.
 */
function weightsModule(
  pages: number,
  weightsAt: number,
  weights: Uint8Array,
): { bytes: Uint8Array; id: string } {
  const id = createHash("sha256").update(weights).digest("hex");
  const section = { "ggufc.weights": new TextEncoder().encode(id) };
  return { bytes: encodeMemoryModule(pages, weightsAt, weights, section), id };
}
