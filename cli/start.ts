/**
 * `ggufc start` (`deno task start`): the main job. Compiles the default model to a standalone
 * module, prints the plan summary, runs one random test digit through the module as the seed's
 * program does, and evaluates the whole test set with it.
 *
 * @module
 */
import {
  choiceOption,
  type Command,
  intOption,
  MODEL_FILE,
  parseCommandArgs,
  readInputFile,
  writeOutputFile,
} from "./command.ts";
import { fileError } from "./files.ts";
import { readImages, readLabels } from "./mnist_inputs.ts";
import { asciiDigit, seededIndex } from "./run.ts";
import { formatEval } from "./eval.ts";
import { printable, printableLines, UsageError } from "../ggml/errors.ts";
import { evaluate } from "../reference/evaluate.ts";
import { modulePredictor } from "./predictors.ts";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { loadEmittedModule } from "../compiler/emit/load.ts";
import { MNIST_HW } from "../compiler/frontend/mod.ts";
import { fileURLToPath } from "node:url";

/** The model `deno task start` compiles: the seed CNN trained by this project. */
export const DEFAULT_MODEL = new URL("../models/mnist-cnn.gguf", import.meta.url);

const help = `usage: ggufc start [MODEL] [--out DIR] [--target wasm|ts] [--seed S]

The main job: compile MODEL (default: models/mnist-cnn.gguf) to DIR/<name>.ts and .js
(default DIR: build/), print what the compiler did, run one random test digit through the
emitted module, then evaluate the 10,000 MNIST test images with it.

options:
  --out DIR       where the module goes (default: build)
  --target T      wasm (default) or ts
  --seed S        seed for the random digit`;

export const startCommand: Command = {
  name: "start",
  summary: "compile the default model, run a digit and evaluate the test set with the module",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("start", args, {
      out: { type: "string" },
      target: { type: "string" },
      seed: { type: "string" },
    });
    if (positionals.length > 1) {
      throw new UsageError("expected at most one MODEL file (see --help)");
    }
    const target = choiceOption("target", values.target, ["wasm", "ts"] as const) ?? "wasm";
    const seed = intOption("seed", values.seed, 0, 2 ** 32 - 1);
    const modelPath = positionals[0] ?? fileURLToPath(DEFAULT_MODEL);
    const outDir = values.out ?? "build";

    // 1. Compile.
    const bytes = await readInputFile(modelPath, MODEL_FILE);
    const t0 = performance.now();
    const result = compileFile(bytes, modelPath, { target });
    if (result.plan.inputKind === "byte-tokens") {
      throw new UsageError(
        `${result.plan.arch}: start evaluates MNIST digits; this model classifies files (ggufc compile it)`,
      );
    }
    const js = await bundleJs(result.source);
    const compileMs = performance.now() - t0;
    const base = modelPath.split(/[\\/]/).pop()!.replace(/\.(gguf|bin)$/, "");
    try {
      await Deno.mkdir(outDir, { recursive: true });
    } catch (e) {
      throw fileError(e, outDir, "write", "folder");
    }
    const tsPath = `${outDir}/${base}.ts`, jsPath = `${outDir}/${base}.js`;
    await writeOutputFile(tsPath, result.source, { inputs: [modelPath] });
    await writeOutputFile(jsPath, js, { inputs: [modelPath] });
    console.log(
      printable(`compiled ${modelPath} in ${compileMs.toFixed(0)} ms -> ${tsPath}, ${jsPath}`),
    );
    console.log(printableLines(result.report.summary));
    console.log("");

    // 2. One digit, as the seed's program shows it.
    const t1 = performance.now();
    const mod = await loadEmittedModule(jsPath);
    console.log(
      `loaded model in ${(performance.now() - t1).toFixed(2)} ms (backend ${mod.backend()})`,
    );
    const images = await readImages(undefined);
    const labels = await readLabels(undefined, images);
    const index = seededIndex(seed ?? Math.floor(Math.random() * 2 ** 32), images.count);
    const size = MNIST_HW * MNIST_HW;
    const pixels = images.pixels.subarray(index * size, (index + 1) * size);
    console.log(asciiDigit(pixels));
    console.log("");
    const { digit } = mod.predict(pixels);
    console.log(`test image ${index} (label ${labels[index]}): predicted digit is ${digit}`);
    console.log("");

    // 3. The whole test set.
    console.log(formatEval(await evaluate(modulePredictor(mod), images.pixels, labels)));
  },
};
