/**
 * The TS target's loader: the arena and the weights as the typed arrays the generated kernels
 * read and write (`A`, `I`, `W`, `U`). Nothing to compile ahead, so a pool posts nothing.
 *
 * @module
 */
import { ARENA_BYTES, run } from "./generated.ts";
import { fromBase64 } from "./from_base64.ts";
import type { Engine } from "./types.ts";

let A: Float32Array = new Float32Array(0); // the arena
let I: Int32Array = new Int32Array(0); // the arena, as int32 (index lists)
let W: Float32Array = new Float32Array(0); // the weights
let U: Uint8Array = new Uint8Array(0); // the weights, as bytes (quantised kernels)

/**
 * The TS kernels are this module's own functions: nothing to compile or to post to a worker (and
 * no weights file: the TS target always embeds its weights, so api.ts never passes one).
 */
type CompiledKernels = undefined;
function compileKernels(_weights?: unknown): Promise<CompiledKernels> {
  return Promise.resolve(undefined);
}

/** Sets up the arena and the weights (`weights`: base64 text or its bytes). */
// deno-lint-ignore require-await
async function instantiate(
  weights: string | Uint8Array,
  _compiled?: CompiledKernels,
): Promise<Engine> {
  if (typeof weights === "string") weights = fromBase64(weights);
  const arena = new ArrayBuffer(ARENA_BYTES);
  A = new Float32Array(arena);
  I = new Int32Array(arena);
  W = new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4);
  U = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  return { arena: A, run, backend: "ts" };
}

export { A, type CompiledKernels, compileKernels, I, instantiate, U, W };
