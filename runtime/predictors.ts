/**
 * The engines `run` and `eval` can use: the reference interpreter on a model file, or a module
 * emitted by `ggufc compile` (loaded with a dynamic import).
 *
 * @module
 */
import { loadModel } from "../compiler/frontend/mod.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { UsageError } from "./errors.ts";
import type { Predictor } from "./evaluate.ts";
import { runGraph } from "./interpreter.ts";

/**
 * A predictor that runs `graph` (built for batch 1) with the reference interpreter.
 *
 * @param graph a graph whose input holds one image
 * @returns a predictor looping over the images
 */
export function interpreterPredictor(graph: Graph): Predictor {
  const inputSize = graph.nodes[graph.input]!.ne.reduce((a, b) => a * b, 1);
  const input = new Float32Array(inputSize);
  return {
    engine: "interpreter",
    predictBatch(images: Uint8Array, count: number): Float32Array {
      let out: Float32Array | undefined;
      for (let i = 0; i < count; i++) {
        input.set(images.subarray(i * inputSize, (i + 1) * inputSize));
        const probs = runGraph(graph, input);
        out ??= new Float32Array(count * probs.length);
        out.set(probs, i * probs.length);
      }
      return out ?? new Float32Array(0);
    },
  };
}

/**
 * Reads a model file and returns an interpreter predictor for it.
 *
 * @param bytes the model file
 * @param file its name
 */
export function interpreterPredictorForFile(bytes: Uint8Array, file: string): Predictor {
  return interpreterPredictor(loadModel(bytes, file, { batch: 1 }).graph);
}

/** The exports of a module emitted by `ggufc compile` that the runtime uses. */
export interface EmittedModule {
  readonly info: { readonly name: string; readonly arch: string; readonly inputLength: number };
  load(): Promise<void>;
  backend(): string;
  predict(image: Uint8Array | Float32Array): { digit: number; probabilities: Float32Array };
  predictBatch(
    images: Uint8Array | Float32Array,
    count: number,
  ): { digits: Uint8Array; probabilities: Float32Array };
}

/**
 * Imports an emitted module (`.ts` or `.js`) from a path and loads it.
 *
 * @param path file path of the module
 * @returns the module, loaded
 */
export async function importEmittedModule(path: string): Promise<EmittedModule> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    throw new UsageError(`module '${path}' does not exist`);
  }
  if (!stat.isFile) throw new UsageError(`module '${path}' is not a file`);
  const url = new URL(path, `file://${Deno.cwd()}/`).href;
  const mod = await import(url) as Partial<EmittedModule>;
  if (typeof mod.load !== "function" || typeof mod.predictBatch !== "function" || !mod.info) {
    throw new UsageError(
      `'${path}' is not a module emitted by ggufc compile (no load/predictBatch/info)`,
    );
  }
  await mod.load();
  return mod as EmittedModule;
}

/**
 * A predictor over a loaded emitted module.
 *
 * @param mod the module
 */
export function modulePredictor(mod: EmittedModule): Predictor {
  return {
    engine: mod.backend(),
    predictBatch: (images, count) => mod.predictBatch(images, count).probabilities,
  };
}
