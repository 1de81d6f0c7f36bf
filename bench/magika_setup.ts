/**
 * What the Magika benchmarks share: the model compiled for each configuration (WASM f32, WASM
 * q8_0, TS), written under build/bench/ as `.ts` and bundled `.js`, and the files to classify
 * (Magika's 77 test files from ../shared/fixtures/magika when present, else deterministic
 * synthetic files of the same sizes' spread). A benchmark helper extends the suite by importing
 * {@link prepareMagika} and {@link magikaFiles}.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { bundleJs, compileFile, type CompileOptions, type CompileResult } from "../compiler/mod.ts";
import type { EmittedFileModule } from "../compiler/emit/emitted_module.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { BUILD_DIR, ROOT } from "./setup.ts";

/** The model file, relative to the repository root. */
export const MAGIKA_MODEL = "models/magika.gguf";
/** Magika's fixture folder (../shared), which may be absent. */
export const MAGIKA_FIXTURES = `${ROOT}../shared/fixtures/magika/`;

/** One compiled configuration, loaded. */
export interface PreparedMagika {
  /** e.g. `wasm-f32`, `wasm-q8_0`, `ts-f32`. */
  readonly id: string;
  readonly compiled: CompileResult;
  /** The loaded module (imported from the `.ts`). */
  readonly module: EmittedFileModule;
  /** The bundled `.js` file (what a deployment ships). */
  readonly jsPath: string;
}

function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, "utf8") === text) return;
  } catch { /* absent */ }
  writeFileSync(path, text);
}

/**
 * Compiles Magika with `options`, writes `build/bench/magika-<id>.ts` and `.js`, imports and
 * loads the `.ts`.
 *
 * @param options target and weights
 * @returns the loaded module and its paths
 */
export async function prepareMagika(
  options: Pick<CompileOptions, "target" | "weights">,
): Promise<PreparedMagika> {
  mkdirSync(BUILD_DIR, { recursive: true });
  const id = `${options.target ?? "wasm"}-${options.weights ?? "f32"}`;
  const compiled = compileFile(readFileSync(ROOT + MAGIKA_MODEL), "magika.gguf", options);
  const tsPath = `${BUILD_DIR}magika-${id}.ts`, jsPath = `${BUILD_DIR}magika-${id}.js`;
  writeIfChanged(tsPath, compiled.source);
  const stamp = `${jsPath}.sha256`;
  const hash = createHash("sha256").update(compiled.source).digest("hex");
  if (!existsSync(jsPath) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== hash) {
    writeFileSync(jsPath, await bundleJs(compiled.source));
    writeFileSync(stamp, hash);
  }
  const module = await import(toFileUrl(tsPath).href) as EmittedFileModule;
  await module.load();
  return { id, compiled, module, jsPath };
}

/**
 * The files to classify: the fixture's 77 test files (paths in ggml-magika.tsv) when
 * ../shared is present, else 77 deterministic synthetic files (text and binary, 0 bytes to
 * 64 KiB).
 *
 * @returns the files' bytes and where they came from
 */
export function magikaFiles(): { files: Uint8Array[]; source: string } {
  try {
    const tsv = readFileSync(`${MAGIKA_FIXTURES}ggml-magika.tsv`, "utf8");
    const paths = tsv.trim().split("\n").map((l) => l.split("\t")[0]!);
    const files = paths.map((p) => new Uint8Array(readFileSync(MAGIKA_FIXTURES + p)));
    return { files, source: `the fixture's ${files.length} test files` };
  } catch {
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16;
    const files = Array.from({ length: 77 }, (_, i) => {
      const size = i === 0 ? 0 : next() % 65536;
      const text = i % 2 === 0;
      return Uint8Array.from({ length: size }, () => (text ? 32 + (next() % 95) : next() & 255));
    });
    return { files, source: "77 synthetic files (../shared absent)" };
  }
}
