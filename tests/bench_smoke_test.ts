/**
 * The benchmark suites stay runnable: they type-check, and smoke mode (`GGUFC_BENCH_SMOKE=1`:
 * one model, one peer, a handful of iterations) runs every suite in a subprocess and reports
 * every group. The memory probe runs in its own subprocess too.
 */
import assert from "node:assert/strict";
import { parseBenchJson, SUITES } from "../bench/report.ts";

const root = new URL("../", import.meta.url);

async function deno(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("the bench files type-check", async () => {
  const r = await deno(["check", "bench/"]);
  assert.ok(r.ok, r.err);
});

Deno.test("smoke mode runs the load, latency and throughput suites with every group", async () => {
  const r = await deno(["bench", "-A", "--json", ...SUITES], { GGUFC_BENCH_SMOKE: "1" });
  assert.ok(r.ok, r.err);
  const run = parseBenchJson(r.out);
  const failed = run.benches.filter((b) => b.error);
  assert.deepEqual(failed.map((b) => `${b.group}/${b.name}: ${b.error}`), []);
  const names = (group: string) =>
    run.benches.filter((b) => b.group === group).map((b) => b.name).sort();
  assert.deepEqual(names("mnist-fc latency"), ["interpreter", "ort-node-1t", "ts", "wasm"]);
  // wasm-b1: the same module without its batch path; wasm-pool2: createPool(2).
  assert.deepEqual(names("mnist-fc throughput batch 64"), [
    "ort-node-1t",
    "ts",
    "wasm",
    "wasm-b1",
    "wasm-pool2",
  ]);
  assert.deepEqual(
    names("mnist-fc load"),
    [
      "+ first predict",
      "--split: + first predict",
      "emit",
      "graph",
      "import + load",
      "instantiate",
      "read + parse",
    ],
  );
  const baselines = run.benches.filter((b) => b.baseline).map((b) => `${b.group}/${b.name}`);
  assert.deepEqual(baselines.sort(), [
    "mnist-fc latency/wasm",
    "mnist-fc throughput batch 64/wasm",
  ]);
});

// How much memory a module takes is a measurement (bench/memory.ts, BENCHMARKS.md); here only
// that the harness runs the module and reports a figure.
Deno.test("bench/memory.ts runs the predictions it is asked for and reports a peak RSS", async () => {
  const { measurePeakRss } = await import("../bench/memory.ts");
  const { benchModels, prepareModel } = await import("../bench/setup.ts");
  const model = await prepareModel(benchModels()[0]!);
  const [base, used] = await Promise.all([
    measurePeakRss(null, 0),
    measurePeakRss(model.paths.wasmJs, 200),
  ]);
  assert.equal(used.predictions, 200);
  assert.equal(base.predictions, 0);
  for (const r of [base, used]) {
    assert.ok(Number.isSafeInteger(r.peakRssBytes) && r.peakRssBytes > 0);
  }
});

Deno.test("bench/cold_start.ts measures fresh Deno and Node processes, single file and --split", async () => {
  const r = await deno([
    "run",
    "-A",
    "bench/cold_start.ts",
    "--runs",
    "1",
    "--models",
    "mnist-cnn-small",
  ]);
  assert.ok(r.ok, r.err);
  // One row per output and runtime, each with seven figures; then the step-by-step row.
  for (const output of ["single file", "--split"]) {
    for (const runtime of ["Deno", "Node"]) {
      const row = new RegExp(
        `^\\| mnist-cnn-small \\| f32 \\| ${output} \\| [^|]+ \\| ${runtime}( \\| [0-9.]+){6} \\|$`,
        "m",
      );
      assert.match(r.out, row);
    }
  }
  assert.match(r.out, /^\| mnist-cnn-small \| \d+ KiB( \| [0-9.]+){8} \|$/m);
  assert.match(r.out, /First touch of fresh memory: [0-9.]+ us per 4 KiB page/);
});
