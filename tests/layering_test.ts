/**
 * The import rules of the project, written once, here (README "Layout" describes the same picture):
 *
 * - every source folder has a layer; a file may import files of its own folder or of a lower layer,
 *   never of a higher or equal other one (so `ggml/` imports nothing of ours);
 * - inside `compiler/` the stages have layers of their own, in pipeline order;
 * - nothing outside `tests/` imports from `tests/`;
 * - no import cycle between files.
 *
 * Imports are read from the source text: static `import`/`export ... from`, side-effect
 * `import "..."`, and `import("...")` with a literal (the lazy imports count too). npm and node specifiers are not ours and are skipped.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Top-level folders (and root files) from the ground floor up. */
const LAYERS: Readonly<Record<string, number>> = {
  "ggml": 0, // GGUF/legacy formats, ggml types and quantisation, error types
  "wasm": 0, // the WebAssembly binary assembler
  "data": 1, // MNIST IDX files
  "convert": 1, // PyTorch and Keras readers, converters to GGUF
  "compiler": 2, // ir -> frontend -> passes -> plan -> codegen -> emit
  "models": 2, // models/train: the trainer
  "reference": 3, // the reference interpreter and evaluation
  "render": 4, // graph pictures
  "export": 4, // ONNX export
  "peers": 5, // onnxruntime / TF.js on the same weights
  "testkit": 5, // seeded randomness and synthetic models for tests, bench and fuzz
  "web": 6,
  "bench": 6,
  "tools": 7, // maintainers' scripts; they may drive the web demo
  "cli": 7,
  "main.ts": 8,
  "mod.ts": 8,
};

/** Stages inside compiler/, in pipeline order. */
const COMPILER_STAGES: Readonly<Record<string, number>> = {
  "ir": 0,
  "frontend": 1,
  "passes": 1,
  "kernels": 2,
  "plan": 3,
  "codegen": 4,
  "emit": 5,
  "mod.ts": 6,
};

/** Folders whose files are not checked (not ours, generated, or tests themselves). */
const SKIPPED = new Set(["node_modules", "build", "tests", ".git", "dist"]);

/** Every checked source file, relative to the root with `/` separators. */
export async function sourceFiles(dir = ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || SKIPPED.has(e.name)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory) out.push(...await sourceFiles(path));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(relative(ROOT, path));
  }
  return out.sort();
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

/** The relative imports of one source text, resolved against its path. */
export function importsOf(file: string, text: string): string[] {
  // Doc comments hold example imports; they are not edges of the graph.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined || !spec.startsWith(".")) continue;
    out.push(normalize(join(dirname(file), spec)));
  }
  return out;
}

function layerOf(file: string): number | undefined {
  const top = file.split("/")[0] ?? file;
  return LAYERS[top];
}

function stageOf(file: string): number | undefined {
  const parts = file.split("/");
  return parts[0] === "compiler" ? COMPILER_STAGES[parts[1] ?? ""] : undefined;
}

/** Every broken rule in an import graph (file -> imported files), one line each. */
export function layeringViolations(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    if (from === undefined) problems.push(`${file}: its folder has no layer in layering_test.ts`);
    for (const target of imports) {
      const top = target.split("/")[0];
      if (top === "tests") {
        problems.push(`${file} imports ${target}: nothing outside tests/ may import tests/`);
        continue;
      }
      const to = layerOf(target);
      if (from === undefined || to === undefined) continue;
      const sameFolder = top === file.split("/")[0];
      if (!sameFolder && to >= from) {
        problems.push(`${file} (layer ${from}) imports ${target} (layer ${to}): upward import`);
      }
      const fs = stageOf(file), ts = stageOf(target);
      const sameStage = file.split("/")[1] === target.split("/")[1];
      if (fs !== undefined && ts !== undefined && !sameStage && ts >= fs) {
        problems.push(
          `${file} (stage ${fs}) imports ${target} (stage ${ts}): against the pipeline`,
        );
      }
    }
  }
  return [...problems, ...importCycles(graph)];
}

/** Every import cycle between files, as `a -> b -> a` (found by depth-first search). */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const s = state.get(next);
      if (s === "open") {
        cycles.push(`import cycle: ${[...stack.slice(stack.indexOf(next)), next].join(" -> ")}`);
      } else if (s === undefined && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

async function projectGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles()) {
    graph.set(file, importsOf(file, await Deno.readTextFile(join(ROOT, file))));
  }
  return graph;
}

Deno.test("the project's imports follow the layers, reach no tests/ file and form no cycle", async () => {
  const graph = await projectGraph();
  assert.ok(graph.size > 100, `found only ${graph.size} source files`);
  assert.deepEqual(layeringViolations(graph), []);
});

Deno.test("the layering check fails on a back-import, a tests/ import and a cycle added to the real graph", async () => {
  const graph = await projectGraph();
  graph.set("ggml/gguf_reader.ts", [...graph.get("ggml/gguf_reader.ts")!, "compiler/mod.ts"]);
  graph.set("bench/setup.ts", [...graph.get("bench/setup.ts")!, "tests/helpers/assert.ts"]);
  graph.set("compiler/ir/graph.ts", [
    ...graph.get("compiler/ir/graph.ts")!,
    "compiler/plan/plan.ts",
  ]);
  const problems = layeringViolations(graph);
  assert.ok(
    problems.some((p) => p.startsWith("ggml/gguf_reader.ts (layer 0) imports compiler/mod.ts")),
  );
  assert.ok(problems.some((p) => p.includes("nothing outside tests/ may import tests/")));
  assert.ok(
    problems.some((p) => p.startsWith("compiler/ir/graph.ts (stage 0) imports compiler/plan")),
  );
  assert.ok(
    problems.some((p) => p.startsWith("import cycle:") && p.includes("compiler/ir/graph.ts")),
  );
});

Deno.test("importsOf() reads static, re-export, side-effect and dynamic imports and skips comments and npm", () => {
  const text = [
    '/** @example import { x } from "./not_an_edge.ts"; */',
    'import { a } from "./a.ts";',
    'import type {\n  B,\n} from "../b/b.ts";',
    'export { c } from "./c.ts";',
    '// import { d } from "./d.ts";',
    'const e = await import("../e.ts");',
    'import { f } from "npm:f";',
    'import { g } from "node:path";',
    'import "./side_effect.ts";',
  ].join("\n");
  assert.deepEqual(importsOf("compiler/plan/x.ts", text), [
    "compiler/plan/a.ts",
    "compiler/b/b.ts",
    "compiler/plan/c.ts",
    "compiler/e.ts",
    "compiler/plan/side_effect.ts",
  ]);
});
