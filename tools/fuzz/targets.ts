/**
 * What the fuzzer runs on each input: the whole path a user's file takes through ggufc.
 * GGUF: parse, dequantise every tensor, load the model (layout detection, graph build) and
 * run the reference interpreter on one image. Legacy: parse, load, run. IDX: both readers.
 * State dict: read, convert to GGUF and legacy, load and run both.
 *
 * @module
 */
import { convertStateDict } from "../../convert/state_dict.ts";
import { readGguf, tensorToF32 } from "../../ggml/gguf_reader.ts";
import { readLegacyGgml } from "../../ggml/legacy.ts";
import { loadModel } from "../../compiler/frontend/mod.ts";
import { GraphError } from "../../compiler/ir/graph.ts";
import { readIdxImages, readIdxLabels } from "../../data/idx.ts";
import { runGraph } from "../../reference/interpreter.ts";
import { FormatError } from "../../ggml/errors.ts";
import type { FuzzFormat } from "./types.ts";

/** One MNIST-sized input (a diagonal stroke), for the interpreter run. */
const IMAGE = Float32Array.from({ length: 784 }, (_, i) => (i % 29 === 0 ? 255 : 0));

/** The error types a hostile input may end in; anything else is a bug. */
export function isExpectedError(e: unknown): e is FormatError | GraphError {
  return e instanceof FormatError || e instanceof GraphError;
}

function loadAndRun(bytes: Uint8Array, file: string, interpret: boolean): void {
  const { graph } = loadModel(bytes, file);
  if (!interpret) return;
  const out = runGraph(graph, IMAGE);
  if (out.length !== 10) throw new RangeError(`Model output has ${out.length} values, not 10`);
}

/**
 * Runs the whole path of `format` on `bytes`.
 *
 * @param format the format
 * @param bytes the input
 * @param interpret also run the reference interpreter on a loaded model (the costly part)
 * @throws {FormatError | GraphError} for a rejected input; anything else is a bug
 */
export function runTarget(format: FuzzFormat, bytes: Uint8Array, interpret = true): void {
  switch (format) {
    case "gguf": {
      const f = readGguf(bytes, "fuzz.gguf");
      for (const t of f.tensors) tensorToF32(t, "fuzz.gguf");
      loadAndRun(bytes, "fuzz.gguf", interpret);
      return;
    }
    case "legacy":
      readLegacyGgml(bytes, "fuzz.bin");
      loadAndRun(bytes, "fuzz.bin", interpret);
      return;
    case "idx": {
      // Each reader on every input: a mutated magic may turn one kind into the other.
      let error: unknown;
      let valid = false;
      for (const read of [readIdxImages, readIdxLabels]) {
        try {
          read(bytes, "fuzz-idx-ubyte");
          valid = true;
        } catch (e) {
          if (!isExpectedError(e)) throw e;
          error ??= e;
        }
      }
      if (!valid) throw error;
      return;
    }
    case "statedict": {
      const { gguf, legacy } = convertStateDict(bytes, "fuzz.state_dict");
      loadAndRun(gguf, "converted.gguf", interpret);
      loadAndRun(legacy, "converted.bin", interpret);
      return;
    }
  }
}
