/**
 * Builds the web demo into web/dist/: compiles the default models with ggufc (cached by the
 * model's and the compiler's hashes), draws each model's optimised graph as an SVG file, packs
 * the MNIST test set, copies the static files and bundles the page with esbuild into one ES2022
 * file (the compiled modules, WASM included, inline). The second page, "What is this file?"
 * (files.html, files.js), loads the compiled Magika module from its own file, magika.js, so the
 * module's worker pool can start workers on it.
 *
 * `deno run -A web/build.ts` builds only; `deno task web` builds and serves.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { join, relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { loadModel } from "../compiler/frontend/mod.ts";
import { renderGraph } from "../render/mod.ts";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { loadMnistTestSet, packTestSet } from "./testset.ts";

/** A model the page offers in its model switch. */
export interface DemoModel {
  /** Id in the DOM and the tests. */
  id: string;
  /** Button text and its second line. */
  label: string;
  detail: string;
  /** File name under models/. */
  file: string;
}

/** The page's models, in switch order: the first available one is the default. */
export const DEMO_MODELS: readonly DemoModel[] = [
  { id: "cnn", label: "Seed CNN", detail: "conv ×2 + dense", file: "mnist-cnn.gguf" },
  { id: "fc", label: "FC", detail: "784-500-10", file: "mnist-fc.gguf" },
  { id: "cnn-small", label: "CNN small", detail: "ggml HEAD", file: "mnist-cnn-small.gguf" },
];

/** Options of {@link buildWeb}. */
export interface BuildOptions {
  /** Output folder; default web/dist. */
  outDir?: string;
  /** Folder of the .gguf files; default models/. */
  modelsDir?: string;
  /** Recompile models and repack the test set even when cached. */
  force?: boolean;
  /** Progress lines; default console.log. */
  log?: (line: string) => void;
  /** Compiles one model to an emitted module's source; default ggufc's compileFile (wasm). */
  compile?: (bytes: Uint8Array, file: string) => string | Promise<string>;
}

/** The compile report's figures the page's graph caption shows (null with a custom compile). */
export interface DemoReport {
  passes: string[];
  arenaBytes: number;
  naiveBytes: number;
  /** Characters of the emitted module's source. */
  moduleBytes: number;
}

/** What {@link buildWeb} did; dist/build.json has it with paths relative to dist. */
export interface BuildResult {
  outDir: string;
  models: {
    id: string;
    file: string;
    sha256: string | null;
    cached: boolean;
    compileMs: number;
    missing: boolean;
    /** Path of the compiled module's source in the cache (null when the model is missing). */
    module: string | null;
    /** The compile report's figures, cached next to the module (null with a custom compile). */
    report: DemoReport | null;
    /** Path of the optimised graph's SVG (null when the model is missing or cannot be drawn). */
    graph: string | null;
  }[];
  bundleBytes: number;
  testsetBytes: number;
  /** The Magika module of files.html: its bundled size, or null when models/magika.gguf is missing. */
  magika: { sha256: string; cached: boolean; compileMs: number; moduleBytes: number } | null;
  ms: number;
}

const HERE = fromFileUrl(new URL(".", import.meta.url));
const ROOT = join(HERE, "..");
/** Static files copied as they are. */
const STATIC_FILES = ["index.html", "files.html", "style.css", "favicon.svg"];
/** The file-type model of the second page. */
export const MAGIKA_FILE = "magika.gguf";

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** All .ts files under `dir`, sorted, as paths. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await tsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/**
 * A hash of the compiler's sources (the folders a compiled module depends on), so a changed compiler invalidates
 * the cached modules without anyone deleting web/dist.
 */
async function compilerHash(): Promise<string> {
  const parts: Uint8Array[] = [];
  for (const dir of ["ggml", "compiler"]) {
    for (const file of await tsFiles(join(ROOT, dir))) {
      parts.push(new TextEncoder().encode(relative(ROOT, file) + "\0"));
      parts.push(await Deno.readFile(file));
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return await sha256Hex(all);
}

/**
 * The generated entry point: imports the compiled modules and starts the page. esbuild
 * bundles it; nothing in web/src depends on the build folder.
 */
function entrySource(models: { model: DemoModel; path: string | null }[]): string {
  const app = join(HERE, "src", "app.ts");
  const lines = [
    "// @generated by web/build.ts: the page's entry point. Do not edit.",
    `import { start } from ${JSON.stringify(app)};`,
  ];
  models.forEach((m, i) => {
    if (m.path) lines.push(`import * as m${i} from ${JSON.stringify(m.path)};`);
  });
  lines.push("start([");
  models.forEach((m, i) => {
    const { id, label, detail, file } = m.model;
    lines.push(
      `  { id: ${JSON.stringify(id)}, label: ${JSON.stringify(label)}, detail: ${
        JSON.stringify(detail)
      }, file: ${JSON.stringify(file)}, module: ${m.path ? `m${i}` : "null"} },`,
    );
  });
  lines.push("]).catch((e) => {");
  lines.push('  const s = document.getElementById("status");');
  lines.push('  if (s) { s.textContent = `Failed to start: ${e}`; s.classList.add("error"); }');
  lines.push("  throw e;");
  lines.push("});");
  return lines.join("\n") + "\n";
}

/** The entry point of files.html: starts the page on magika.js, or says it was not built. */
function filesEntrySource(built: boolean): string {
  const app = join(HERE, "src", "files_app.ts");
  return [
    "// @generated by web/build.ts: the entry point of files.html. Do not edit.",
    `import { startFiles } from ${JSON.stringify(app)};`,
    'const s = document.getElementById("status");',
    built
      ? 'startFiles(new URL("./magika.js", import.meta.url).href).catch((e) => {\n' +
        '  if (s) { s.textContent = `Failed to start: ${e}`; s.classList.add("error"); }\n' +
        "  throw e;\n});"
      : `if (s) s.textContent = "models/${MAGIKA_FILE} was missing when the page was built.";`,
  ].join("\n") + "\n";
}

/**
 * Compiles models/magika.gguf (WASM target) and bundles it to outDir/magika.js, cached in
 * `cacheDir` by the model's and the compiler's hashes like the MNIST modules.
 */
async function buildMagika(
  modelsDir: string,
  outDir: string,
  cacheDir: string,
  toolHash: string,
  options: BuildOptions,
  log: (line: string) => void,
): Promise<BuildResult["magika"]> {
  const src = join(modelsDir, MAGIKA_FILE);
  if (!(await exists(src))) {
    log(`web: ${MAGIKA_FILE} not found in ${modelsDir}; files.html says so`);
    return null;
  }
  const bytes = await Deno.readFile(src);
  const sha256 = await sha256Hex(bytes);
  const cachePath = join(cacheDir, `magika-${sha256.slice(0, 16)}-${toolHash}.js`);
  const cached = !options.force && (await exists(cachePath));
  let compileMs = 0;
  if (!cached) {
    const c0 = performance.now();
    const { source } = compileFile(bytes, MAGIKA_FILE, { target: "wasm" });
    const js = await bundleJs(source);
    compileMs = performance.now() - c0;
    await Deno.writeTextFile(`${cachePath}.tmp`, js);
    await Deno.rename(`${cachePath}.tmp`, cachePath);
    log(`web: compiled ${MAGIKA_FILE} in ${compileMs.toFixed(0)} ms`);
    for await (const e of Deno.readDir(cacheDir)) {
      if (
        /^magika-[0-9a-f]{16}-[0-9a-f]{12}\.js$/.test(e.name) &&
        join(cacheDir, e.name) !== cachePath
      ) {
        await Deno.remove(join(cacheDir, e.name));
      }
    }
  }
  await Deno.copyFile(cachePath, join(outDir, "magika.js"));
  const moduleBytes = (await Deno.stat(cachePath)).size;
  return { sha256, cached, compileMs, moduleBytes };
}

/**
 * Builds the page.
 *
 * @param options output and model folders, cache control, logging
 * @returns what was built
 * @example
 * ```ts ignore
 * import { buildWeb } from "./build.ts";
 * const r = await buildWeb();
 * console.log(r.bundleBytes);
 * ```
 */
export async function buildWeb(options: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const outDir = options.outDir ?? join(HERE, "dist");
  const modelsDir = options.modelsDir ?? join(ROOT, "models");
  const log = options.log ?? ((line: string) => console.log(line));
  const cacheDir = join(outDir, "cache");
  await Deno.mkdir(cacheDir, { recursive: true });

  for (const name of STATIC_FILES) await Deno.copyFile(join(HERE, name), join(outDir, name));

  // Test set: all 10,000 images, gzip; packed once (about 2 s), the source never changes.
  const testsetPath = join(outDir, "testset.bin.gz");
  if (options.force || !(await exists(testsetPath))) {
    log("web: packing the MNIST test set (10,000 images)");
    const tmp = `${testsetPath}.tmp`;
    await Deno.writeFile(tmp, packTestSet(loadMnistTestSet()));
    await Deno.rename(tmp, testsetPath);
  }

  // Models: compile what is missing from the cache.
  const toolHash = (await compilerHash()).slice(0, 12);
  const models: BuildResult["models"] = [];
  const entries: { model: DemoModel; path: string | null }[] = [];
  for (const model of DEMO_MODELS) {
    const src = join(modelsDir, model.file);
    if (!(await exists(src))) {
      log(`web: ${model.file} not found in ${modelsDir}; the page shows it as not built`);
      models.push({
        id: model.id,
        file: model.file,
        sha256: null,
        cached: false,
        compileMs: 0,
        missing: true,
        module: null,
        report: null,
        graph: null,
      });
      entries.push({ model, path: null });
      continue;
    }
    const bytes = await Deno.readFile(src);
    const hash = await sha256Hex(bytes);
    const out = join(cacheDir, `${model.id}-${hash.slice(0, 16)}-${toolHash}.ts`);
    // The compile report's figures live next to the module, so a cached build still has them.
    const reportPath = out.replace(/\.ts$/, ".json");
    const cached = !options.force && (await exists(out)) && (await exists(reportPath));
    let compileMs = 0;
    let report: DemoReport | null;
    if (cached) {
      report = JSON.parse(await Deno.readTextFile(reportPath)) as DemoReport | null;
    } else {
      const c0 = performance.now();
      let source: string;
      if (options.compile) {
        source = await options.compile(bytes, model.file);
        report = null;
      } else {
        const r = compileFile(bytes, model.file, { target: "wasm" });
        source = r.source;
        const { passes, arenaBytes, naiveBytes, moduleBytes } = r.report;
        report = { passes: [...passes], arenaBytes, naiveBytes, moduleBytes };
      }
      compileMs = performance.now() - c0;
      await Deno.writeTextFile(`${out}.tmp`, source);
      await Deno.rename(`${out}.tmp`, out);
      await Deno.writeTextFile(reportPath, JSON.stringify(report) + "\n");
      log(`web: compiled ${model.file} in ${compileMs.toFixed(0)} ms`);
      // Drop this model's stale cache entries.
      for await (const e of Deno.readDir(cacheDir)) {
        const path = join(cacheDir, e.name);
        if (e.name.startsWith(`${model.id}-`) && path !== out && path !== reportPath) {
          const rest = e.name.slice(model.id.length + 1);
          // Only "<id>-<hash>-<tool>.ts|json", so "cnn-" does not delete "cnn-small-...".
          if (/^[0-9a-f]{16}-[0-9a-f]{12}\.(ts|json)$/.test(rest)) {
            await Deno.remove(path);
          }
        }
      }
    }
    // The optimised graph as a static SVG, drawn here in Deno (the renderer needs Graphviz WASM
    // and node: modules, so it stays out of the page). Redrawn on every build: about 0.2 s.
    let graph: string | null = join(outDir, `graph-${model.id}-optimized.svg`);
    try {
      const svg = await renderGraph(loadModel(bytes, model.file).graph, {
        stage: "optimized",
        format: "svg",
      });
      await Deno.writeFile(graph, svg);
    } catch (e) {
      log(`web: cannot draw the graph of ${model.file}: ${e instanceof Error ? e.message : e}`);
      graph = null;
    }
    models.push({
      id: model.id,
      file: model.file,
      sha256: hash,
      cached,
      compileMs,
      missing: false,
      module: out,
      report,
      graph,
    });
    entries.push({ model, path: out });
  }

  const magika = await buildMagika(modelsDir, outDir, cacheDir, toolHash, options, log);

  const entry = join(cacheDir, "entry.ts");
  await Deno.writeTextFile(entry, entrySource(entries));
  const filesEntry = join(cacheDir, "files_entry.ts");
  await Deno.writeTextFile(filesEntry, filesEntrySource(magika !== null));
  try {
    await esbuild.build({
      entryPoints: [filesEntry],
      outfile: join(outDir, "files.js"),
      bundle: true,
      format: "esm",
      target: "es2022",
      platform: "browser",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    });
    await esbuild.build({
      entryPoints: [entry],
      outfile: join(outDir, "app.js"),
      bundle: true,
      format: "esm",
      target: "es2022",
      platform: "browser",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop();
  }

  const result: BuildResult = {
    outDir,
    models,
    bundleBytes: (await Deno.stat(join(outDir, "app.js"))).size,
    testsetBytes: (await Deno.stat(testsetPath)).size,
    magika,
    ms: performance.now() - t0,
  };
  // The served copy names files relative to the build folder: no local paths on the wire.
  const served = {
    ...result,
    outDir: ".",
    models: result.models.map((m) => ({
      ...m,
      module: m.module && relative(outDir, m.module),
      graph: m.graph && relative(outDir, m.graph),
    })),
  };
  await Deno.writeTextFile(join(outDir, "build.json"), JSON.stringify(served, null, 2) + "\n");
  log(
    `web: built ${outDir} in ${result.ms.toFixed(0)} ms (app.js ${
      (result.bundleBytes / 1e6).toFixed(2)
    } MB, test set ${(result.testsetBytes / 1e6).toFixed(2)} MB)`,
  );
  return result;
}

if (import.meta.main) {
  await buildWeb({ force: Deno.args.includes("--force") });
}
