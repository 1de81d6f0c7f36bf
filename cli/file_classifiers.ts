/**
 * The engines `run` and `eval` use on a file-type model (Magika, byte-token input): one function,
 * {@link fileClassifierFor}, gives the compiled module (WASM or TS target, compiled in memory) or
 * the reference interpreter behind the same {@link FileClassifier} API.
 *
 * @module
 */
import { loadModel } from "../compiler/frontend/mod.ts";
import { type Graph, inputKind } from "../compiler/ir/graph.ts";
import { compileFile } from "../compiler/mod.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import { type FileClassifier, interpreterFileClassifier } from "../reference/file_classifier.ts";
import type { Engine } from "./predictors.ts";
import { MODEL_FILE, readInputFile } from "./files.ts";

/** A model file read and built, when it classifies files (byte-token input). */
export interface FileModel {
  readonly bytes: Uint8Array;
  readonly path: string;
  readonly graph: Graph;
}

/**
 * Reads `path` and builds its graph; `undefined` when the model is not a file classifier (an
 * MNIST model: the caller goes on with its pixel path).
 *
 * @param path the model file
 * @throws UsageError / FormatError / IoError as readInputFile and the frontend
 */
export async function readFileModel(path: string): Promise<FileModel | undefined> {
  const bytes = await readInputFile(path, MODEL_FILE);
  const { graph } = loadModel(bytes, path);
  return inputKind(graph) === "byte-tokens" ? { bytes, path, graph } : undefined;
}

/**
 * The classifier for a file-type model on the chosen engine: `wasm` and `ts` compile the model
 * in memory and load the emitted module, `interpreter` runs the reference interpreter.
 *
 * @param model the model ({@link readFileModel})
 * @param engine which engine (default `wasm`)
 * @returns the classifier, loaded
 * @throws FormatError when the compiler cannot compile the model
 */
export async function fileClassifierFor(
  model: FileModel,
  engine: Engine = "wasm",
): Promise<FileClassifier> {
  if (engine === "interpreter") return interpreterFileClassifier(model.graph);
  const { source } = compileFile(model.bytes, model.path, { target: engine });
  const mod = await loadEmittedSource(source, "ts") as unknown as FileClassifier & {
    info: { inputKind?: string };
  };
  const labels = mod.info.labels;
  if (
    mod.info.inputKind !== "byte-tokens" || !Array.isArray(labels) ||
    labels.length !== model.graph.meta.labels?.length
  ) {
    // The compiler's own output: a mismatch is a bug, not a user mistake.
    throw new Error(
      `${model.path}: the compiled module is not a byte-token classifier with ` +
        `${model.graph.meta.labels?.length} labels (info.inputKind ${mod.info.inputKind})`,
    );
  }
  return mod;
}
