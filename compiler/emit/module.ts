/**
 * Module emission: one standalone ES module (TypeScript source) holding the weights, the
 * backend's kernels and the public API (`info`, `load`, `backend`, `predict`, `predictBatch`,
 * `createPool`). It imports nothing, so it runs unchanged in Deno, Node (after esbuild strips
 * the types) and browsers. The same plan and options always give byte-identical output.
 *
 * The module is the header, then the runtime's files (compiler/emit/runtime/*.ts, ordinary
 * type-checked TypeScript, embedded by `deno task gen:runtime`) with one generated constants
 * block after the types (runtime/generated.ts declares each constant) and, for the TS target,
 * the kernels' source after the TS loader. Model strings reach the module only through escape.ts.
 *
 * @module
 */
import type { BackendOutput } from "../codegen/backend_output.ts";
import type { Plan } from "../plan/plan.ts";
import { toBase64 } from "../codegen/base64.ts";
import { jsString, jsValue } from "./escape.ts";
import { RUNTIME_TEXT } from "./runtime_text.generated.ts";

/** Facts the emitter writes into the header and `info`. */
export interface EmitMeta {
  /** ggufc's version. */
  readonly version: string;
  /** Hex sha256 of the model file (or of the graph when there is no file). */
  readonly sha256: string;
  /** Names of the passes applied, in order. */
  readonly passes: readonly string[];
  /** The compile options, as the user gave them. */
  readonly options: Record<string, unknown>;
  /** Fill the arena with NaN before every run (tests: catches reads of unwritten memory). */
  readonly poisonArena?: boolean;
  /** `backend.weights` holds f16 values to widen to f32 at load (`--weights f16`). */
  readonly weightsF16?: boolean;
  /**
   * `--split`: the file name `backend.weightsModule` is written under, next to the module (the
   * module fetches it relative to its own URL). Required when there is a weights module.
   */
  readonly weightsFile?: string;
}

/**
 * The runtime files a module is made of, in order; the generated block goes after the first.
 * types.ts leads (the block's `info` is typed by it) and pool.ts closes (its last statement
 * starts serving when the module runs in a pool worker, so everything else must be defined).
 *
 * @param target the backend
 * @param weightsF16 the weights are stored as f16 (adds f16.ts)
 * @param inputKind images (image_api.ts) or files as byte tokens (byte_tokens.ts, file_api.ts)
 * @returns runtime file names, keys of the embedded runtime text
 */
export function moduleRuntimeFiles(
  target: "wasm" | "ts",
  weightsF16: boolean,
  inputKind: "pixels" | "byte-tokens" = "pixels",
): string[] {
  return [
    "types.ts",
    "from_base64.ts",
    ...(weightsF16 ? ["f16.ts"] : []),
    ...(target === "wasm" ? ["weights_file.ts", "wasm_loader.ts"] : ["ts_loader.ts"]),
    "api.ts",
    ...(inputKind === "byte-tokens" ? ["byte_tokens.ts", "file_api.ts"] : ["image_api.ts"]),
    "pool.ts",
  ];
}

/**
 * The generated constants of a module: every one runtime/generated.ts declares, except the TS
 * target's kernels (`run`), which {@link emitModule} puts after the TS loader.
 *
 * @param plan the placed plan
 * @param backend the backend's kernels and weights
 * @param meta info facts
 * @returns TypeScript, no leading or trailing newline
 */
export function generatedBlock(plan: Plan, backend: BackendOutput, meta: EmitMeta): string {
  const info = {
    name: plan.name,
    arch: plan.arch,
    layout: plan.layout,
    inputLength: plan.inputLength,
    inputShape: [...plan.inputShape],
    classes: plan.outputLength,
    arenaBytes: plan.arenaBytes,
    weightBytes: backend.weights.byteLength,
    target: backend.target,
    passes: [...meta.passes],
    options: meta.options,
    ...(plan.inputKind ? { inputKind: plan.inputKind } : {}),
    ...(plan.labels ? { labels: [...plan.labels] } : {}),
  };
  const split = backend.target === "wasm" && backend.weightsModule !== undefined;
  if (split && !WEIGHTS_FILE_NAME.test(meta.weightsFile ?? "")) {
    throw new Error(`a --split module needs a plain .wasm file name, got '${meta.weightsFile}'`);
  }
  const weights = jsString(split ? "" : toBase64(backend.weights));
  const lines = [
    `/** What was compiled, from which model, with which options. */`,
    `export const info: Info = ${jsValue(info)};`,
    ``,
    `const INPUT_LENGTH = ${plan.inputLength};`,
    `const INPUT_MAX: number = ${plan.inputKind === "byte-tokens" ? 256 : 255};`,
    `const CLASSES = ${plan.outputLength};`,
    `/** Float index of the input and of the output in the arena. */`,
    `const INPUT_AT = ${plan.buffers[plan.input]!.offset / 4};`,
    `const OUTPUT_AT = ${plan.buffers[plan.output]!.offset / 4};`,
    `const POISON_ARENA = ${meta.poisonArena === true};`,
    `const ARENA_BYTES = ${plan.arenaBytes};`,
    ``,
    meta.weightsF16
      ? `/** The weights as f16 (base64), widened to little-endian f32 bytes here, once. */`
      : `/** The weights (little-endian f32, 16-byte aligned blocks), base64. */`,
    `const WEIGHTS = ${meta.weightsF16 ? `expandF16(${weights})` : weights};`,
    `/** --split modules: the weights file beside the module; else "". */`,
    `const WEIGHTS_FILE = ${jsString(split ? meta.weightsFile! : "")};`,
  ];
  if (backend.target === "wasm") {
    lines.push(
      ``,
      `/** WASM memory layout: arena at 0, weights at WEIGHTS_AT (bytes). */`,
      `const WEIGHTS_AT = ${backend.weightsAt};`,
      `const WEIGHT_BYTES = ${backend.weightBytes};`,
      `const MEMORY_PAGES = ${backend.pages};`,
      `/** --split: the weights file's bytes before the weights (base64) and their sha256. */`,
      `const WEIGHTS_HEAD = ${jsString(split ? toBase64(weightsFileHead(backend)) : "")};`,
      `const WEIGHTS_ID = ${jsString(backend.weightsModule?.id ?? "")};`,
      `/** The kernels with plain SIMD128 (mul + add). */`,
      `const WASM_SIMD = ${jsString(toBase64(backend.simd))};`,
      `/** The same kernels with the relaxed-SIMD FMA; "" when not compiled in. */`,
      `const WASM_RELAXED = ${jsString(backend.relaxed ? toBase64(backend.relaxed) : "")};`,
      `/** The batch path's memory (runBatch: chunks of images at once), or null. */`,
      `const BATCH: BatchLayout | null = ${backend.batch ? jsValue(backend.batch) : "null"};`,
    );
  }
  return lines.join("\n");
}

/** The weights file's bytes before the weights (which are its last bytes: weights_file.ts). */
function weightsFileHead(backend: BackendOutput): Uint8Array {
  if (backend.target !== "wasm" || !backend.weightsModule) throw new Error("not a --split module");
  const file = backend.weightsModule.bytes;
  return file.subarray(0, file.length - backend.weights.length);
}

/** What `--split` accepts as the weights file's name: a plain file name, no path. */
export const WEIGHTS_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*\.wasm$/;

/**
 * Emits the module source.
 *
 * @param plan the placed plan
 * @param backend the backend's kernels and weights
 * @param meta header and info facts
 * @returns the TypeScript source of OUT.ts
 * @example
 * ```ts ignore
 * import { emitModule } from "./module.ts";
 * const source = emitModule(plan, generateWasm(plan, { relaxed: true }), meta);
 * ```
 */
export function emitModule(plan: Plan, backend: BackendOutput, meta: EmitMeta): string {
  if (!/^[0-9a-f]{64}$/.test(meta.sha256)) throw new Error(`bad sha256 '${meta.sha256}'`);
  if (!/^[0-9A-Za-z.+-]+$/.test(meta.version)) throw new Error(`bad version '${meta.version}'`);
  const files = moduleRuntimeFiles(backend.target, meta.weightsF16 === true, plan.inputKind);
  const sections = files.map((name) => {
    const text = RUNTIME_TEXT[name];
    if (text === undefined) {
      throw new Error(`runtime file ${name} is not embedded: deno task gen:runtime`);
    }
    return `// ---- ggufc runtime: ${name} ----\n\n${text}`;
  });
  // The constants go right after types.ts (`info` is typed by it; the rest of the runtime reads
  // them). The TS kernels go right after ts_loader.ts, so the arena and weight bindings they
  // use are declared above them, as in every module before the runtime was split out.
  sections.splice(
    1,
    0,
    `// ---- Generated for this model: constants ----\n\n${generatedBlock(plan, backend, meta)}`,
  );
  if (backend.target === "ts") {
    const loader = sections.findIndex((t) => t.startsWith("// ---- ggufc runtime: ts_loader.ts"));
    sections.splice(
      loader + 1,
      0,
      `// ---- Generated for this model: kernels ----\n\n${backend.source}`,
    );
  }
  const usage = plan.inputKind === "byte-tokens"
    ? ` * A file-type classifier compiled ahead of time by ggufc: weights, kernels and a fixed memory
 * plan in one standalone module (no imports).
 *
 * \`\`\`ts
 * await load();
 * const { label, score } = predict(bytes); // a whole file's bytes (Uint8Array)
 * \`\`\``
    : ` * A digit classifier compiled ahead of time by ggufc: weights, kernels and a fixed memory plan
 * in one standalone module (no imports).
 *
 * \`\`\`ts
 * await load();
 * const { digit, probabilities } = predict(pixels); // 784 values 0..255, index x + 28 * y
 * \`\`\``;
  return `// @generated by ggufc ${meta.version} from ${meta.sha256}: do not edit
/**
${usage}
 *
 * @module
 */

${sections.join("\n\n")}
`;
}
