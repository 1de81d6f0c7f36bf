/**
 * The WASM target's loader: feature detection (the relaxed-SIMD variant where it validates, else
 * plain SIMD128), compilation once per thread, and instantiation with the weights copied into
 * the kernels' memory. Memory layout: the arena at byte 0, the weights at `WEIGHTS_AT`.
 *
 * `--split` modules keep their weights in a file of their own (`WEIGHTS_FILE`, beside the
 * module; weights_file.ts): it is found and checked once, next to compiling the kernels, and
 * gives each instance a fresh memory with the weights in place, which the kernels import
 * instead of defining their own.
 *
 * @module
 */
import {
  ARENA_BYTES,
  BATCH,
  WASM_RELAXED,
  WASM_SIMD,
  WEIGHT_BYTES,
  WEIGHTS_AT,
  WEIGHTS_FILE,
} from "./generated.ts";
import { fromBase64 } from "./from_base64.ts";
import { openWeightsFile, type WeightsFile, weightsMemory } from "./weights_file.ts";
import type { BatchEngine, Engine, WeightsSource } from "./types.ts";

/** The compiled kernels and the backend name of the variant chosen; posted as is to pool workers. */
interface CompiledKernels {
  readonly module: WebAssembly.Module;
  readonly backend: string;
  /** `--split` modules: the weights file, checked (weights_file.ts). */
  readonly weights?: WeightsFile;
}
let compiledKernels: Promise<CompiledKernels> | undefined;
/**
 * Compiles the relaxed-SIMD variant where it validates, else the plain one, and a `--split`
 * module's weights file, both at once (once per thread).
 */
function compileKernels(weights?: WeightsSource): Promise<CompiledKernels> {
  if (compiledKernels) return compiledKernels;
  compiledKernels = (async () => {
    const weightsFile = WEIGHTS_FILE ? openWeightsFile(weights) : undefined;
    weightsFile?.catch(() => {}); // awaited below; this only stops an early throw orphaning it
    const relaxed = WASM_RELAXED ? fromBase64(WASM_RELAXED) : undefined;
    const useRelaxed = relaxed !== undefined && WebAssembly.validate(relaxed);
    const bytes = useRelaxed ? relaxed : fromBase64(WASM_SIMD);
    if (!useRelaxed && !WebAssembly.validate(bytes)) {
      throw new Error("this engine lacks WebAssembly SIMD128; compile the model with --target ts");
    }
    const module = await WebAssembly.compile(bytes);
    const backend = useRelaxed ? "wasm-relaxed-simd" : "wasm-simd128";
    return weightsFile ? { module, backend, weights: await weightsFile } : { module, backend };
  })();
  // A failure is not kept: a later call (say, load({ wasm }) after a 404) tries again.
  compiledKernels.catch(() => compiledKernels = undefined);
  return compiledKernels;
}

/**
 * Instantiates the kernels and puts the weights into their memory. `weights` is the base64
 * text (decoded straight into WASM memory when the engine has `setFromBase64`) or its bytes
 * (unused by `--split` modules, whose weights module fills the memory);
 * `compiled`: kernels compiled elsewhere (a pool worker gets them from the pool).
 */
async function instantiate(
  weights: string | Uint8Array,
  compiled?: CompiledKernels,
): Promise<Engine> {
  const { module, backend, weights: weightsFile } = compiled ?? await compileKernels();
  // --split: a fresh memory with the weights already in it, which the kernels import.
  const memory = weightsFile ? await weightsMemory(weightsFile) : undefined;
  const imports: WebAssembly.Imports = {
    m: memory ? { exp: Math.exp, memory } : { exp: Math.exp },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as {
    memory: WebAssembly.Memory;
    run: () => void;
    runBatch?: (fromBytes: number) => void;
  };
  if (!memory) {
    const target = new Uint8Array(exports.memory.buffer, WEIGHTS_AT, WEIGHT_BYTES);
    const direct = (target as unknown as { setFromBase64?: (s: string) => unknown })
      .setFromBase64;
    if (typeof weights !== "string") target.set(weights);
    else if (direct) direct.call(target, weights);
    else target.set(fromBase64(weights));
  }
  const engine = {
    arena: new Float32Array(exports.memory.buffer, 0, ARENA_BYTES / 4),
    run: exports.run,
    backend,
  };
  return BATCH && exports.runBatch
    ? { ...engine, batch: batchEngine(exports.memory.buffer, exports.runBatch) }
    : engine;
}

/** Views of the batch path's memory (layout: the generated BATCH), and its entry point. */
function batchEngine(memory: ArrayBufferLike, run: (fromBytes: number) => void): BatchEngine {
  const b = BATCH!;
  return {
    images: b.images,
    arena: new Float32Array(memory, b.arenaAt, b.arenaBytes / 4),
    input: new Float32Array(memory, b.inputAt, b.images * b.inputStride),
    inputStride: b.inputStride,
    bytes: new Uint8Array(memory, b.bytesAt, b.images * b.inputStride),
    output: new Float32Array(memory, b.outputAt, b.images * b.outputStride),
    outputStride: b.outputStride,
    run,
  };
}

export { type CompiledKernels, compileKernels, instantiate };
