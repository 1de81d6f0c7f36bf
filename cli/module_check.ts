/**
 * `--module FILE` for `run` and `eval`: imports a module emitted by `ggufc compile` and checks
 * that it is one before anything trusts it: the file kind and extension, the exports and the
 * shape of `info`, `load()`, and one probe image whose output must be `classes` finite values.
 * Every problem is one line ({@link UsageError}, exit 2). The results of every later batch are
 * checked the same way, so a module that goes wrong midway cannot print `test_loss=NaN`.
 *
 * @module
 */
import { FormatError, UsageError } from "../ggml/errors.ts";
import type { EmittedModule } from "../compiler/emit/load.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { MODEL_FILE, readInputFile } from "./files.ts";
import type { FileClassifier } from "../reference/file_classifier.ts";

/**
 * Emitted modules inline their weights (or read them from OUT.wasm beside them, `--split`); this
 * bounds what a wrong file can cost to check.
 */
export const MODULE_MAX_BYTES = 256 * 2 ** 20;

/** The first line of an error's message, for a one-line report. */
function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.slice(0, 300);
}

/** Throws a one-line UsageError: `module 'path' is not ...: <why>`. */
function bad(path: string, why: string): never {
  throw new UsageError(`module '${path}' is not a module emitted by 'ggufc compile': ${why}`);
}

/** What an `info` export must hold for the CLI to run the module. */
function checkInfo(path: string, info: unknown): EmittedModule["info"] {
  if (typeof info !== "object" || info === null) bad(path, "its 'info' export is not an object");
  const i = info as Record<string, unknown>;
  const positiveInt = (k: string) => {
    const v = i[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      bad(path, `info.${k} is ${describe(v)}, not a positive integer`);
    }
  };
  if (typeof i.name !== "string") bad(path, `info.name is ${describe(i.name)}, not a string`);
  positiveInt("inputLength");
  positiveInt("classes");
  return info as EmittedModule["info"];
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (typeof v === "string") return `a string`;
  if (typeof v === "number") return String(v);
  return `a ${typeof v}`;
}

/**
 * Checks one batch's probabilities: `count * classes` finite numbers.
 *
 * @param path the module, for messages
 * @param probs what `predictBatch` returned as probabilities
 * @param count images in the batch
 * @param classes `info.classes`
 * @param first index of the batch's first image, for messages
 * @returns `probs`, checked
 */
export function checkProbabilities(
  path: string,
  probs: unknown,
  count: number,
  classes: number,
  first = 0,
): Float32Array {
  if (!(probs instanceof Float32Array)) {
    bad(path, `predictBatch returned ${describe(probs)} probabilities, not a Float32Array`);
  }
  if (probs.length !== count * classes) {
    bad(
      path,
      `predictBatch returned ${probs.length} probabilities for ${count} image(s) of ` +
        `${classes} classes (expected ${count * classes})`,
    );
  }
  for (let j = 0; j < probs.length; j++) {
    if (!Number.isFinite(probs[j])) {
      const image = first + Math.floor(j / classes);
      bad(path, `probability ${j % classes} of image ${image} is ${probs[j]}`);
    }
  }
  return probs;
}

/**
 * Imports the module at `path` and checks what every emitted module has: the file, the exports,
 * `info`, `load()` and `backend()`.
 */
async function importCheckedModule(path: string): Promise<EmittedModule> {
  if (!/\.(ts|js|mjs)$/.test(path)) {
    bad(path, "its name must end in .ts, .js or .mjs");
  }
  // Kind and size first (no FIFO, no device); a model file given as a module is named as such.
  const head = await readInputFile(path, {
    what: "module",
    maxBytes: MODULE_MAX_BYTES,
    sniffBytes: 4,
    sniff: (bytes) => {
      let model = true;
      try {
        MODEL_FILE.sniff!(bytes, path);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        model = false;
      }
      if (model) bad(path, "it is a model file; give it as MODEL, without --module");
    },
  });
  if (head.length === 0) bad(path, "it is empty");
  let m: Record<string, unknown>;
  try {
    m = await import(toFileUrl(path).href);
  } catch (e) {
    bad(path, `importing it failed: ${firstLine(e)}`);
  }
  for (const fn of ["load", "backend", "predict", "predictBatch"]) {
    if (typeof m[fn] !== "function") bad(path, `it has no '${fn}' function export`);
  }
  checkInfo(path, m.info);
  const mod = m as unknown as EmittedModule;
  try {
    await mod.load();
  } catch (e) {
    bad(path, `its load() failed: ${firstLine(e)}`);
  }
  let backend: unknown;
  try {
    backend = mod.backend();
  } catch (e) {
    bad(path, `its backend() failed: ${firstLine(e)}`);
  }
  if (typeof backend !== "string") bad(path, `backend() returned ${describe(backend)}`);
  if (m.createPool !== undefined && typeof m.createPool !== "function") {
    bad(path, "its 'createPool' export is not a function");
  }
  return mod;
}

/**
 * Imports the module at `path` and checks it (see the module doc): an image classifier.
 *
 * @param path the `.ts` / `.js` / `.mjs` file
 * @returns the loaded module
 * @throws {UsageError} one line naming what is wrong
 */
export async function loadCheckedModule(path: string): Promise<EmittedModule> {
  const mod = await importCheckedModule(path);
  const info = mod.info;
  if (info.inputKind === "byte-tokens") {
    throw new UsageError(
      `module '${path}' (${info.arch}) classifies files, not images: ` +
        `'ggufc run --module ${path} FILE...' runs it`,
    );
  }
  // One blank image through predictBatch, the call run and eval make.
  let probe: unknown;
  try {
    probe = mod.predictBatch(new Uint8Array(info.inputLength), 1)?.probabilities;
  } catch (e) {
    bad(path, `predictBatch on a blank image failed: ${firstLine(e)}`);
  }
  checkProbabilities(path, probe, 1, info.classes);
  return mod;
}

/**
 * Imports a file-type module (Magika, byte-token input) at `path` and checks it: `info.labels`
 * names every class, and an empty file classifies to `classes` finite probabilities.
 *
 * @param path the `.ts` / `.js` / `.mjs` file
 * @returns the loaded classifier
 * @throws {UsageError} one line naming what is wrong (an image model: that it takes no FILEs)
 */
export async function loadCheckedFileModule(path: string): Promise<FileClassifier> {
  const mod = await importCheckedModule(path);
  const info = mod.info;
  if (info.inputKind !== "byte-tokens") {
    throw new UsageError(
      `module '${path}' (${info.arch}) classifies images, not files: give no FILE ` +
        `(ggufc run --module ${path} [--index N])`,
    );
  }
  const labels: unknown = info.labels;
  if (
    !Array.isArray(labels) || labels.length !== info.classes ||
    !labels.every((l) => typeof l === "string")
  ) {
    bad(path, `info.labels is not ${info.classes} strings`);
  }
  const classifier = mod as unknown as FileClassifier;
  let probe: unknown;
  try {
    probe = classifier.predictBatch([new Uint8Array(0)])?.probabilities;
  } catch (e) {
    bad(path, `predictBatch on an empty file failed: ${firstLine(e)}`);
  }
  checkProbabilities(path, probe, 1, info.classes);
  return classifier;
}
