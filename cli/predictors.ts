/**
 * The engines `run` and `eval` can use on a model file: the module the compiler emits for it
 * (WASM or TS target, compiled in memory), or the reference interpreter; or a module emitted
 * earlier by `ggufc compile`, loaded from its file.
 *
 * @module
 */
import { loadModel } from "../compiler/frontend/mod.ts";
import { type Graph, inputKind } from "../compiler/ir/graph.ts";
import { compileFile } from "../compiler/mod.ts";
import { type EmittedModule, loadEmittedSource } from "../compiler/emit/load.ts";
import { checkProbabilities, loadCheckedModule } from "./module_check.ts";
import { UsageError } from "../ggml/errors.ts";
import type { Predictor } from "../reference/evaluate.ts";
import { runGraph } from "../reference/interpreter.ts";

/** The engines a model file can run on. */
export const ENGINES = ["wasm", "ts", "interpreter"] as const;
/** One of {@link ENGINES}. */
export type Engine = typeof ENGINES[number];

/**
 * A predictor that runs `graph` (built for batch 1) with the reference interpreter.
 *
 * @param graph a graph whose input holds one image
 * @returns a predictor looping over the images
 */
export function interpreterPredictor(graph: Graph): Predictor {
  if (inputKind(graph) !== "pixels") {
    throw new UsageError(
      `${graph.meta.arch}: models with ${
        inputKind(graph)
      } input are not supported yet by run and eval`,
    );
  }
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
 * A predictor over a loaded emitted module.
 *
 * @param mod the module
 */
export function modulePredictor(mod: EmittedModule): Predictor {
  if (mod.info.inputKind === "byte-tokens") {
    throw new UsageError(
      `${mod.info.arch}: models with byte-tokens input are not supported yet by run and eval`,
    );
  }
  return {
    engine: mod.backend(),
    predictBatch: (images, count) => mod.predictBatch(images, count).probabilities,
  };
}

/**
 * A predictor for a model file on the chosen engine.
 *
 * @param bytes the model file
 * @param file its name
 * @param engine `wasm` or `ts` compile the model in memory; `interpreter` runs the reference
 * @returns the predictor, ready to run
 */
export async function predictorForFile(
  bytes: Uint8Array,
  file: string,
  engine: Engine = "wasm",
): Promise<Predictor> {
  if (engine === "interpreter") return interpreterPredictor(loadModel(bytes, file).graph);
  const { source } = compileFile(bytes, file, { target: engine });
  return modulePredictor(await loadEmittedSource(source, "ts"));
}

/**
 * A predictor for a module emitted by `ggufc compile`, loaded from `path` and checked
 * (module_check.ts): exports, `info`, a probe image, and the results of every batch.
 *
 * @param path the `.ts` / `.js` module
 * @param workers when given, a pool of that many workers (the module's `createPool`) runs the
 * batches; close the predictor afterwards
 */
export async function predictorForModule(path: string, workers?: number): Promise<Predictor> {
  const mod = await loadCheckedModule(path);
  const classes = mod.info.classes;
  // Every batch is checked as the probe was: a module cannot turn bad results into figures.
  let done = 0;
  const checked = (probs: unknown, count: number) => {
    const out = checkProbabilities(path, probs, count, classes, done);
    done += count;
    return out;
  };
  if (workers === undefined) {
    return {
      engine: mod.backend(),
      predictBatch: (images, count) =>
        checked(mod.predictBatch(images, count).probabilities, count),
    };
  }
  if (!mod.createPool) {
    throw new UsageError(`module '${path}' has no createPool (compiled by an older ggufc?)`);
  }
  const pool = await mod.createPool(workers);
  return {
    engine: `${mod.backend()} x ${workers} workers`,
    // ggml's evaluation batch: large enough that the pool's per-call cost (~0.1 ms) vanishes.
    batch: 500,
    predictBatch: async (images, count) =>
      checked((await pool.predictBatch(images, count)).probabilities, count),
    close: () => pool.close(),
  };
}

/**
 * A predictor running a model file's compiled module on a pool of workers. The workers load
 * the module from a file, so it is written to a temporary file first.
 *
 * @param bytes the model file
 * @param file its name
 * @param workers how many workers
 */
export async function pooledPredictorForFile(
  bytes: Uint8Array,
  file: string,
  workers: number,
): Promise<Predictor> {
  const { source } = compileFile(bytes, file, { target: "wasm" });
  const path = await Deno.makeTempFile({ prefix: "ggufc-", suffix: ".ts" });
  await Deno.writeTextFile(path, source);
  const predictor = await predictorForModule(path, workers);
  return {
    ...predictor,
    close: async () => {
      await predictor.close?.();
      await Deno.remove(path);
    },
  };
}
