/**
 * Batches on all cores: `predictBatch` of 500 MNIST test images through the emitted module's
 * worker pool (`createPool`, 1 and 2 workers) against the single-threaded `predictBatch`, for
 * mnist-fc and mnist-cnn-small (a missing trained model is replaced by random weights of its
 * layout, and said so). ggml HEAD's batch eval on this machine (2 threads, batch 500) is the
 * reference: mnist-fc 10 us/image, mnist-cnn-small 150 us/image.
 *
 * Two ways to run it:
 * - `deno bench -A bench/pool.bench.ts`: one group per model; the time is per call of 500 images
 *   (divide by 500 for us/image).
 * - `deno run -A bench/pool.bench.ts --table [--rounds N] [--node]`: prints us/image (best and
 *   median of N rounds, default 30, taken in turn so load swings hit all three alike) as a
 *   markdown table; `--node` also runs the same rounds on the bundled .js in Node 20.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bundleJs, compileFile } from "../compiler/mod.ts";
import { toFileUrl } from "../compiler/emit/path_url.ts";
import type { EmittedModule, EmittedPool } from "../compiler/emit/emitted_module.ts";
import { loadMnist } from "../data/mnist_data.ts";
import { fcWeights, ggmlCnnWeights, ggufOf } from "../testkit/models.ts";

/** Images per call. */
export const BATCH = 500;
/** ggml HEAD's batch eval on this machine, 2 threads, batch 500 (us/image). */
const GGML_US: Record<string, number> = { "mnist-fc": 10, "mnist-cnn-small": 150 };
/** The targets with 2 workers (us/image). */
const TARGET_US: Record<string, number> = { "mnist-fc": 10, "mnist-cnn-small": 50 };

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BUILD = `${ROOT}build/bench/`;

/** An emitted module, which (emitted by this compiler) always has createPool. */
type PoolModule = Required<EmittedModule>;

/** The two models, trained when present. */
function models(): { id: string; label: string; bytes: Uint8Array }[] {
  const pick = (id: string, random: () => Uint8Array) => {
    const path = `${ROOT}models/${id}.gguf`;
    if (existsSync(path)) {
      return { id, label: `${id} (models/${id}.gguf)`, bytes: readFileSync(path) };
    }
    console.error(`note: models/${id}.gguf is missing: ${id} runs on random weights of its layout`);
    return { id, label: `${id} (random weights)`, bytes: random() };
  };
  return [
    pick("mnist-fc", () => ggufOf("mnist-fc", fcWeights(1))),
    pick("mnist-cnn-small", () => ggufOf("mnist-cnn", ggmlCnnWeights(2))),
  ];
}

/** Compiles a model into build/bench/ and imports it, loaded. */
async function emitted(id: string, bytes: Uint8Array): Promise<PoolModule> {
  mkdirSync(BUILD, { recursive: true });
  const path = `${BUILD}pool-${id}.ts`;
  const { source } = compileFile(bytes, `${id}.gguf`, { target: "wasm" });
  const old = existsSync(path) ? readFileSync(path, "utf8") : undefined;
  if (old !== source) writeFileSync(path, source);
  const m = await import(toFileUrl(path).href) as PoolModule;
  await m.load();
  return m;
}

const images = loadMnist("test").images.pixels.slice(0, BATCH * 784);
type Pool = EmittedPool;
const prepared: { id: string; label: string; m: PoolModule; pool1: Pool; pool2: Pool }[] = [];
for (const model of models()) {
  const m = await emitted(model.id, model.bytes);
  prepared.push({
    id: model.id,
    label: model.label,
    m,
    pool1: await m.createPool(1),
    pool2: await m.createPool(2),
  });
}
const closeAll = () => Promise.all(prepared.flatMap((p) => [p.pool1.close(), p.pool2.close()]));

type Times = Record<"single" | "pool1" | "pool2", number[]>;

/**
 * Times `rounds` rounds of every run in turn (us per image). Self-contained: the Node runner
 * gets its source text (`measure.toString()`, plain JavaScript once Deno has stripped the types).
 */
async function measure(
  runs: Record<string, () => Promise<unknown>>,
  rounds: number,
  batch: number,
): Promise<Times> {
  const times: Record<string, number[]> = {};
  for (const name of Object.keys(runs)) times[name] = [];
  for (const run of Object.values(runs)) for (let i = 0; i < 3; i++) await run(); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(runs)) {
      const t0 = performance.now();
      await run();
      times[name]!.push(((performance.now() - t0) * 1000) / batch);
    }
  }
  return times as Times;
}

/** Node 20 on the bundled module: the same rounds, times as JSON. */
async function measureInNode(id: string, rounds: number): Promise<{ backend: string } & Times> {
  const js = `${BUILD}pool-${id}.mjs`;
  writeFileSync(js, await bundleJs(readFileSync(`${BUILD}pool-${id}.ts`, "utf8")));
  writeFileSync(`${BUILD}pool-images.bin`, images);
  writeFileSync(
    `${BUILD}pool-node-runner.mjs`,
    `import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [js, bin, rounds] = process.argv.slice(2);
const m = await import(pathToFileURL(js).href);
await m.load();
const images = new Uint8Array(readFileSync(bin));
const batch = images.length / 784;
const pool1 = await m.createPool(1), pool2 = await m.createPool(2);
const times = await (${measure.toString()})({
  single: async () => m.predictBatch(images, batch),
  pool1: () => pool1.predictBatch(images, batch),
  pool2: () => pool2.predictBatch(images, batch),
}, Number(rounds), batch);
await pool1.close();
await pool2.close();
console.log(JSON.stringify({ backend: m.backend(), ...times }));
`,
  );
  const out = await new Deno.Command("node", {
    args: [`${BUILD}pool-node-runner.mjs`, js, `${BUILD}pool-images.bin`, String(rounds)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`node runner failed for ${id}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

if (Deno.args.includes("--table")) {
  const at = Deno.args.indexOf("--rounds");
  const rounds = at >= 0 ? Number(Deno.args[at + 1]) : 30;
  const fmt = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]!.toFixed(1)} / ${s[Math.floor(s.length / 2)]!.toFixed(1)}`;
  };
  const row = (label: string, id: string, t: Times) =>
    `| ${label} | ${fmt(t.single)} | ${fmt(t.pool1)} | **${fmt(t.pool2)}** | ${GGML_US[id]} | <= ${
      TARGET_US[id]
    } |`;
  const rows: string[] = [];
  for (const p of prepared) {
    const t = await measure(
      {
        single: () => Promise.resolve(p.m.predictBatch(images, BATCH)),
        pool1: () => p.pool1.predictBatch(images, BATCH),
        pool2: () => p.pool2.predictBatch(images, BATCH),
      },
      rounds,
      BATCH,
    );
    rows.push(row(`${p.label}, Deno ${p.m.backend()}`, p.id, t));
  }
  await closeAll();
  if (Deno.args.includes("--node")) {
    for (const p of prepared) {
      const t = await measureInNode(p.id, rounds);
      rows.push(row(`${p.label}, Node 20 ${t.backend}`, p.id, t));
    }
  }
  console.log(`batch ${BATCH}, ${rounds} rounds, load average ${Deno.loadavg().join(" ")}`);
  console.log(
    "| model, runtime | single-thread predictBatch best / median | pool, 1 worker | pool, 2 workers | ggml HEAD, 2 threads | target, 2 workers |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(r);
} else {
  for (const p of prepared) {
    const group = `${p.id} batch ${BATCH} (time per call; / ${BATCH} = per image)`;
    Deno.bench({
      name: "single-thread predictBatch",
      group,
      baseline: true,
      fn: () => {
        p.m.predictBatch(images, BATCH);
      },
    });
    Deno.bench({
      name: "pool, 1 worker",
      group,
      fn: async () => void await p.pool1.predictBatch(images, BATCH),
    });
    Deno.bench({
      name: "pool, 2 workers",
      group,
      fn: async () => void await p.pool2.predictBatch(images, BATCH),
    });
  }
  // deno bench has no after-all hook: end the workers once the benches are done with them.
  globalThis.addEventListener("unload", () => void closeAll());
}
