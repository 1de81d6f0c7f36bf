/**
 * Magika per-file latency (batch 1, one thread), rotating through the files of
 * {@link magikaFiles}: the compiled WASM module with f32 weights (the baseline), with q8_0
 * weights, and the TS module; `predict(bytes)` includes the token extraction, `predictTokens`
 * starts from the 1536 tokens. And the cold start of the bundled `.js` (f32): `import` + `load()`
 * of a fresh copy, and `load()` alone.
 *
 * Targets (issue 13): WASM f32 <= 5 ms per file, q8_0 <= 2.5 ms, import + load <= 10 ms.
 *
 * Run: `deno bench -A bench/magika_kernels.bench.ts`.
 *
 * @module
 */
import { magikaFiles, prepareMagika } from "./magika_setup.ts";
import { iterations, SMOKE } from "./setup.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import { fileTokens } from "../compiler/emit/runtime/byte_tokens.ts";

const { files, source } = magikaFiles();
console.error(`note: Magika benchmarks on ${source}`);
const tokens = files.map((f) => Int32Array.from(fileTokens(f)));

const configs = [
  { target: "wasm", weights: "f32" },
  { target: "wasm", weights: "q8_0" },
  { target: "ts", weights: "f32" },
] as const;
const prepared = [];
for (const c of configs) prepared.push(await prepareMagika(c));

for (const p of prepared) {
  let i = 0;
  const slow = p.id.startsWith("ts");
  Deno.bench({
    name: `${p.id} predict(bytes)`,
    group: "magika per file",
    baseline: p.id === "wasm-f32",
    ...iterations(slow),
    fn: () => {
      p.module.predict(files[i++ % files.length]!);
    },
  });
  if (slow) continue;
  let j = 0;
  Deno.bench({
    name: `${p.id} predictTokens`,
    group: "magika per file",
    ...iterations(),
    fn: () => {
      p.module.predictTokens(tokens[j++ % tokens.length]!);
    },
  });
}

// Cold start: every fresh import stays in memory for the life of the process, so few calls.
const f32 = prepared[0]!;
const jsUrl = toFileUrl(f32.jsPath).href;
let fresh = 0;
const fewCalls = SMOKE ? { n: 2, warmup: 0 } : { n: 20, warmup: 2 };
const freshCopy = () => import(`${jsUrl}?fresh=${fresh++}`) as Promise<{ load(): Promise<void> }>;
Deno.bench({
  name: "wasm-f32 import + load (bundled .js)",
  group: "magika load",
  baseline: true,
  ...fewCalls,
  fn: async () => {
    const m = await freshCopy();
    await m.load();
  },
});
Deno.bench({
  name: "wasm-f32 load() only",
  group: "magika load",
  ...fewCalls,
  fn: async (b) => {
    const m = await freshCopy();
    b.start();
    await m.load();
    b.end();
  },
});
