/**
 * The emitted module's runtime (compiler/emit/runtime/*.ts): the embedded copy the compiler
 * pastes is not stale, the rule that turns a runtime file into pasted text does what it says,
 * every module's generated block defines exactly what the runtime takes from it, a module exports
 * exactly the documented API, and the runtime's exports fit the one `EmittedModule` type.
 */
import assert from "node:assert/strict";
import { compileGraph } from "../compiler/mod.ts";
import { renderRuntimeText, runtimeBody } from "../compiler/emit/runtime_text.ts";
import { RUNTIME_TEXT } from "../compiler/emit/runtime_text.generated.ts";
import { loadEmittedSource } from "../compiler/emit/load.ts";
import type { EmittedModule } from "../compiler/emit/emitted_module.ts";
import type { Engine } from "../compiler/emit/runtime/types.ts";
import type * as Api from "../compiler/emit/runtime/api.ts";
import type * as ImageApi from "../compiler/emit/runtime/image_api.ts";
import type * as Generated from "../compiler/emit/runtime/generated.ts";
import type * as WasmLoader from "../compiler/emit/runtime/wasm_loader.ts";
import type * as TsLoader from "../compiler/emit/runtime/ts_loader.ts";
import type * as F16 from "../compiler/emit/runtime/f16.ts";
import { readRuntimeFiles, RUNTIME_TEXT_FILE } from "../tools/gen_runtime.ts";
import { randomModel } from "../testkit/random_graphs.ts";

// Type level (deno test type-checks this file, and with it every runtime file): the runtime's
// exports are the API `EmittedModule` describes, and both loaders fit the loader contract.
type RuntimeModule =
  & Pick<typeof Api, "load" | "backend">
  & Pick<typeof ImageApi, "predict" | "predictBatch" | "createPool">
  & Pick<typeof Generated, "info">;
type Instantiate = (weights: string | Uint8Array) => Promise<Engine>;
const typeChecks: [
  (m: RuntimeModule) => EmittedModule,
  Instantiate,
  Instantiate,
  (s: string) => Uint8Array,
] = [
  (m) => m,
  null as unknown as typeof WasmLoader.instantiate,
  null as unknown as typeof TsLoader.instantiate,
  null as unknown as typeof F16.expandF16,
];
void typeChecks;

Deno.test("the embedded runtime text is the runtime files' text (else: deno task gen:runtime)", () => {
  const want = renderRuntimeText(readRuntimeFiles());
  const got = Deno.readTextFileSync(RUNTIME_TEXT_FILE);
  assert.ok(
    got === want,
    "compiler/emit/runtime_text.generated.ts is stale: run `deno task gen:runtime`",
  );
  assert.deepEqual(Object.keys(RUNTIME_TEXT).sort(), Object.keys(readRuntimeFiles()).sort());
});

Deno.test("runtimeBody() drops the module doc, imports and export lists, and nothing else", () => {
  const text = `/**
 * A file.
 *
 * @module
 */
import { A } from "./a.ts";
import type {
  B,
  C,
} from "./b.ts";

/** Kept. */
export function f(): number {
  return A; // import { x } from "./not-a-line-start.ts" stays: it is not at a line's start
}
const g = 1;

export { g };
export type { B };
`;
  assert.equal(
    runtimeBody("x.ts", text),
    `/** Kept. */
export function f(): number {
  return A; // import { x } from "./not-a-line-start.ts" stays: it is not at a line's start
}
const g = 1;`,
  );
  // A first comment that is not the module doc stays.
  assert.equal(runtimeBody("y.ts", "/** f */\nfunction f() {}\n"), "/** f */\nfunction f() {}");
  // What the rule cannot strip is an error, not silently pasted.
  for (
    const bad of [
      'import "./side_effect.ts";\n',
      'export * from "./all.ts";\n',
      'export { a } from "./a.ts";\n',
    ]
  ) {
    assert.throws(() => runtimeBody("z.ts", bad), /z\.ts: the runtime rule cannot strip/);
  }
});

/** Top-level names a piece of emitted TypeScript defines (const, let, function). */
function definedNames(text: string): Set<string> {
  return new Set(
    [...text.matchAll(/^(?:export )?(?:const|let|(?:async )?function) (\w+)/gm)].map((m) => m[1]!),
  );
}

/** Names a runtime file imports from one of the other files. */
function importedFrom(text: string, file: string): string[] {
  const out: string[] = [];
  const re = /^import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"\.\/([^"]+)";/gm;
  for (const m of text.matchAll(re)) {
    if (m[2] !== file) continue;
    out.push(...m[1]!.split(",").map((s) => s.trim().replace(/^type\s+/, "")).filter(Boolean));
  }
  return out;
}

/** The generated parts of an emitted module: its constants block and (TS target) its kernels. */
function generatedParts(source: string): string {
  const parts = source.split(/^(?=\/\/ ---- .* ----$)/m);
  const generated = parts.filter((p) => p.startsWith("// ---- Generated for this model"));
  assert.ok(generated.length > 0, "the module has a generated block");
  return generated.join("\n");
}

const FILES = readRuntimeFiles();
const CONTRACT = new Set(
  [...FILES["generated.ts"]!.matchAll(/^export declare (?:const|function) (\w+)/gm)].map((m) =>
    m[1]!
  ),
);

for (const [target, weights] of [["wasm", "f32"], ["ts", "f32"], ["wasm", "f16"]] as const) {
  Deno.test(`a ${target} module (${weights}) defines exactly what its runtime files take from the generated block and the loader`, () => {
    const { source } = compileGraph(randomModel("ggml-cnn", 3), { target, weights });
    const files = [...source.matchAll(/^\/\/ ---- ggufc runtime: (\S+) ----$/gm)].map((m) => m[1]!);
    const loader = target === "wasm" ? "wasm_loader.ts" : "ts_loader.ts";
    assert.deepEqual(files, [
      "types.ts",
      "from_base64.ts",
      ...(weights === "f16" ? ["f16.ts"] : []),
      ...(target === "wasm" ? ["weights_file.ts"] : []),
      loader,
      "api.ts",
      "image_api.ts",
      "pool.ts",
    ]);
    const block = definedNames(generatedParts(source));
    const wanted = new Set(files.flatMap((f) => importedFrom(FILES[f]!, "generated.ts")));
    for (const name of wanted) assert.ok(block.has(name), `${target}: the block lacks ${name}`);
    for (const name of block) {
      const kernel = target === "ts" && (name === "ACC" || /^k\d+_/.test(name));
      assert.ok(CONTRACT.has(name) || kernel, `${target}: ${name} is not in runtime/generated.ts`);
      assert.ok(wanted.has(name) || name === "info" || kernel, `${target}: ${name} is unused`);
    }
    const fromLoader = files.flatMap((f) => importedFrom(FILES[f]!, "loader.ts"));
    const loaderNames = definedNames(RUNTIME_TEXT[loader]!);
    for (const name of fromLoader.filter((n) => n !== "CompiledKernels")) {
      assert.ok(loaderNames.has(name), `${loader} does not define ${name}`);
    }
    assert.match(RUNTIME_TEXT[loader]!, /^(?:interface|type) CompiledKernels\b/m);
    // The contract files themselves are never pasted.
    assert.ok(!source.includes("export declare"), "no declaration from a contract file");
  });
}

Deno.test("an emitted module exports exactly the documented API", async () => {
  for (const target of ["wasm", "ts"] as const) {
    const { source } = compileGraph(randomModel("ggml-fc", 2), { target });
    const m = await loadEmittedSource(source);
    assert.deepEqual(Object.keys(m).sort(), [
      "backend",
      "createPool",
      "info",
      "load",
      "predict",
      "predictBatch",
    ]);
    const types = [...source.matchAll(/^export (?:interface|type) (\w+)/gm)].map((x) => x[1]);
    assert.deepEqual(types.sort(), [
      "BatchPrediction",
      "Info",
      "LoadOptions",
      "Pool",
      "PoolOptions",
      "Prediction",
      "WeightsSource",
    ]);
  }
});
