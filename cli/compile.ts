/**
 * `ggufc compile MODEL -o OUT.ts`: compiles a model into one standalone ES module.
 *
 * @module
 */
import {
  checkOutputPath,
  choiceOption,
  type Command,
  MODEL_FILE,
  parseCommandArgs,
  readInputFile,
  writeOutputFile,
} from "./command.ts";
import { printableLines, UsageError } from "../ggml/errors.ts";
import {
  bundleJs,
  compileFile,
  CONV_ARITHMETICS,
  formatGraph,
  renderPlan,
  splitOptionProblem,
  WEIGHT_FORMATS,
  WEIGHTS_FILE_NAME,
} from "../compiler/mod.ts";

const help = `usage: ggufc compile MODEL -o OUT.ts [--js] [--split] [--target wasm|ts] [--plan]
       [--no-relaxed] [--weights f32|f16|q8_0|q4_0] [--conv auto|int8|f32]

Compiles MODEL (seed CNN / ggml mnist-fc / mnist-cnn GGUF, the seed's legacy FC file, or
Magika's GGUF) into one standalone ES module with no imports: info, load(), backend(),
createPool(n) and, for the digit models, predict(image), predictBatch(images, count); for
Magika, predict(bytes) -> { label, score, probabilities }, predictTokens(tokens),
predictBatch(files), with info.labels. Prints the passes applied, arena bytes, weight bytes
and module size.

options:
  -o, --output FILE   the module to write: FILE.ts (TypeScript), or FILE.js / FILE.mjs (JavaScript)
  --js                also write the JavaScript next to a .ts output (esbuild, ES2022)
  --split             keep the weights out of the module, in OUT.wasm beside it (a WASM file
                      with no code: its memory holds the weights); load() reads it from beside
                      the module (fetch + WebAssembly.compileStreaming in browsers, the file in
                      Deno and Node), or from load({ wasm: url | bytes | Response | Module }).
                      For users who serve files: the module is a few tens of KB and starts
                      faster (BENCHMARKS.md, Cold start). WASM target; not with --weights f16
  --target T          wasm (default: SIMD128 kernels inlined as bytes) or ts (plain TypeScript)
  --no-relaxed        leave out the relaxed-SIMD (FMA) variant of the WASM kernels
  --weights T         weight storage: f32 (default); f16 (half the bytes, widened at load);
                      q8_0 / q4_0 (ggml blocks; dense layers compute on them as ggml's
                      q8_0 x q8_0 vec_dot, input quantised per 32-block; conv weights stay f32)
  --conv A            WASM convolutions whose input is >= 0 (after a relu, or raw pixels):
                      auto (default): int8 in the relaxed-SIMD variant (1.6x faster on the
                      seed CNN), f32 in the plain SIMD128 one (where int8 is slower); int8:
                      both variants; f32: the exact f32 convolutions everywhere (results equal
                      the interpreter's within float rounding). int8 quantises the input per
                      tensor at run time and the weights per output channel: argmax equals
                      f32's on 99.95-99.98 % of the MNIST test set (BENCHMARKS.md); f16 weights
                      keep f32
  --plan              print the plan: kernel calls, shapes, arena offsets, bytes, FLOPs
  --print-graph       print the graph after the graph passes`;

/** The `compile` command. */
export const compileCommand: Command = {
  name: "compile",
  summary: "compile a model into a standalone TypeScript/WASM module",
  help,
  async run(args: string[]): Promise<void> {
    const { values, positionals } = parseCommandArgs("compile", args, {
      output: { type: "string", short: "o" },
      js: { type: "boolean" },
      split: { type: "boolean" },
      target: { type: "string" },
      "no-relaxed": { type: "boolean" },
      weights: { type: "string" },
      conv: { type: "string" },
      plan: { type: "boolean" },
      "print-graph": { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `compile takes one MODEL file, got ${positionals.length} (see 'ggufc compile --help')`,
      );
    }
    const model = positionals[0]!;
    const out = values.output;
    if (out === undefined && !values.plan && !values["print-graph"]) {
      throw new UsageError("compile needs -o OUT.ts (or --plan to only print the plan)");
    }
    if (out !== undefined && !/\.(ts|js|mjs)$/.test(out)) {
      throw new UsageError(`-o must name a .ts, .js or .mjs file, got '${out}'`);
    }
    const target = choiceOption("target", values.target, ["wasm", "ts"] as const) ?? "wasm";
    const weights = choiceOption("weights", values.weights, WEIGHT_FORMATS) ?? "f32";
    const conv = choiceOption("conv", values.conv, CONV_ARITHMETICS) ?? "auto";
    const splitProblem = values.split ? splitOptionProblem(target, weights) : undefined;
    if (splitProblem) throw new UsageError(splitProblem);
    if (values.split && out === undefined) throw new UsageError("--split needs -o OUT.ts");
    const jsPath = out?.endsWith(".ts") && values.js ? out.replace(/\.ts$/, ".js") : undefined;
    // OUT.wasm beside OUT.ts / OUT.js: the module loads it by this name from its own URL.
    const wasmPath = values.split ? out!.replace(/\.(ts|js|mjs)$/, ".wasm") : undefined;
    const weightsFile = wasmPath?.split(/[\\/]/).pop();
    if (weightsFile !== undefined && !WEIGHTS_FILE_NAME.test(weightsFile)) {
      throw new UsageError(
        `--split names the weights file after -o: '${weightsFile}' is not a plain file name ` +
          `(letters, digits, _ . + -)`,
      );
    }
    const inputs = [model];
    for (const o of [out, jsPath, wasmPath]) {
      if (o !== undefined) await checkOutputPath(o, { inputs });
    }
    const bytes = await readInputFile(model, MODEL_FILE);
    const t0 = performance.now();
    const result = compileFile(bytes, model.split(/[\\/]/).pop()!, {
      target,
      relaxed: !values["no-relaxed"],
      weights,
      conv,
      ...(weightsFile !== undefined ? { weightsFile } : {}),
    });
    const ms = performance.now() - t0;
    // Node names and the model name come from the file: escaped like every such string.
    const fromFile = [result.graph.meta.name, ...result.graph.nodes.map((n) => n.name)];
    if (values["print-graph"]) console.log(printableLines(formatGraph(result.graph), fromFile));
    if (values.plan) console.log(printableLines(renderPlan(result.plan), fromFile));
    console.log(printableLines(result.report.summary));
    if (out === undefined) return;
    const written: string[] = [];
    if (out.endsWith(".ts")) {
      await writeOutputFile(out, result.source, { inputs });
      written.push(out);
      if (jsPath !== undefined) {
        await writeOutputFile(jsPath, await bundleJs(result.source), { inputs });
        written.push(jsPath);
      }
    } else {
      await writeOutputFile(out, await bundleJs(result.source), { inputs });
      written.push(out);
    }
    if (wasmPath !== undefined && result.weightsWasm) {
      await writeOutputFile(wasmPath, result.weightsWasm, { inputs });
      written.push(wasmPath);
    }
    console.log(printableLines(`compiled in ${ms.toFixed(1)} ms: wrote ${written.join(", ")}`));
  },
};
