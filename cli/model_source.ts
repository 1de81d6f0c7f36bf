/**
 * How `run` and `eval` name what to run: a MODEL file (on the engine `--engine` picks) or a
 * module emitted earlier by `ggufc compile` (`--module`). One of the two, never both.
 *
 * @module
 */
import { choiceOption, intOption, MODEL_FILE, readInputFile } from "./command.ts";
import { UsageError } from "../ggml/errors.ts";
import type { Predictor } from "../reference/evaluate.ts";
import {
  ENGINES,
  pooledPredictorForFile,
  predictorForFile,
  predictorForModule,
} from "./predictors.ts";

/** The options this module reads, to spread into a command's option spec. */
export const MODEL_SOURCE_OPTIONS = {
  module: { type: "string" },
  engine: { type: "string" },
  workers: { type: "string" },
} as const;

/** The help lines for {@link MODEL_SOURCE_OPTIONS}, indented to `width` columns. */
export function modelSourceHelp(width: number): string {
  const pad = (s: string) => `  ${s.padEnd(width - 2)}`;
  return [
    `${pad("--engine E")}wasm (default: the compiled module, built in memory), ts, or`,
    `${" ".repeat(width)}interpreter (the reference interpreter, slow)`,
    `${pad("--module FILE")}run a module emitted by 'ggufc compile' instead of a MODEL file`,
    `${pad("--workers N")}run batches on N workers (the module's createPool; wasm engine)`,
  ].join("\n");
}

/**
 * The predictor the command line asks for.
 *
 * @param positionals the command's positionals: `[MODEL]`, or none with `--module`
 * @param values the parsed `--module` / `--engine`
 * @returns the predictor, loaded
 */
export async function predictorFromArgs(
  positionals: readonly string[],
  values: {
    module?: string | undefined;
    engine?: string | undefined;
    workers?: string | undefined;
  },
): Promise<Predictor> {
  const modulePath = values.module;
  const workers = intOption("workers", values.workers, 1, 64);
  if (positionals.length !== (modulePath ? 0 : 1)) {
    throw new UsageError(
      modulePath
        ? "give either MODEL or --module, not both"
        : "expected one MODEL file (see --help)",
    );
  }
  const engine = choiceOption("engine", values.engine, ENGINES);
  if (modulePath) {
    if (engine) throw new UsageError("--engine applies to a MODEL file, not to --module");
    return await predictorForModule(modulePath, workers);
  }
  const file = positionals[0]!;
  const bytes = await readInputFile(file, MODEL_FILE);
  if (workers === undefined) return await predictorForFile(bytes, file, engine);
  if (engine !== undefined && engine !== "wasm") {
    throw new UsageError(
      "--workers runs the compiled WASM module; it does not go with --engine " + engine,
    );
  }
  return await pooledPredictorForFile(bytes, file, workers);
}
