/**
 * The benchmark report writer, on a recorded `deno bench --json` run
 * (tests/fixtures/bench-sample.json: the `deno bench --json` output of a full
 * `deno task bench:report` run, five models, all engines)
 * and on hand-made figures whose table cells are known.
 */
import assert from "node:assert/strict";
import {
  BEGIN,
  type BenchRun,
  END,
  type LatencySample,
  type Machine,
  parseBenchJson,
  quantiles,
  renderReport,
  spliceReport,
} from "../bench/report.ts";
import { latencyChartPng, latencyChartSvg } from "../bench/chart.ts";

const sample = await Deno.readTextFile(new URL("./fixtures/bench-sample.json", import.meta.url));

const machine: Machine = {
  cpu: "Test CPU @ 1 GHz",
  cores: 2,
  deno: "2.9.6",
  v8: "15.0",
  typescript: "6.0",
  os: "linux",
  date: "2026-01-01T00:00:00Z",
  command: "deno task bench:report",
};

/** A run with known averages (ns): wasm 10 us, ts 40 us per digit; batch 64 in 640 us / 320 us. */
function knownRun(): BenchRun {
  const stat = (group: string, name: string, avg: number, baseline = false) => ({
    origin: "file:///bench/x.bench.ts",
    group,
    name,
    baseline,
    n: 100,
    avg,
    min: avg / 2,
    max: avg * 3,
    p75: avg * 1.1,
    p99: avg * 2,
  });
  return {
    runtime: "Deno/2.9.6",
    cpu: "Test CPU",
    benches: [
      stat("m latency", "wasm", 10_000, true),
      stat("m latency", "ts", 40_000),
      stat("m throughput batch 64", "wasm", 640_000, true),
      stat("m throughput batch 64", "ort-node-2t", 320_000),
      stat("m load", "read + parse", 50_000),
      stat("m load", "instantiate", 2_000_000),
    ],
  };
}

Deno.test("parseBenchJson() reads every bench of the recorded run with its group and figures", () => {
  const run = parseBenchJson(sample);
  const raw = JSON.parse(sample) as { benches: unknown[] };
  assert.equal(run.benches.length, raw.benches.length);
  assert.match(run.runtime, /^Deno\//);
  const wasm = run.benches.find((b) => b.group === "mnist-fc latency" && b.name === "wasm");
  assert.ok(wasm, "the latency group has the wasm bench");
  assert.equal(wasm.baseline, true);
  assert.ok(wasm.avg > 0 && wasm.min <= wasm.avg && wasm.avg <= wasm.max);
  const cnn = run.benches.filter((b) => b.group === "mnist-cnn latency").map((b) => b.name);
  assert.deepEqual(cnn.sort(), [
    "interpreter",
    "ort-node-1t",
    "ort-node-2t",
    "ort-web",
    "tfjs-wasm",
    "ts",
    "wasm",
  ]);
  for (const stage of ["read + parse", "graph", "emit", "instantiate", "import + load"]) {
    assert.ok(run.benches.some((b) => b.group === "mnist-fc load" && b.name === stage), stage);
  }
});

Deno.test("parseBenchJson() rejects a report of another version", () => {
  assert.throws(() => parseBenchJson('{"version": 2, "benches": []}'), /version 2/);
});

Deno.test("parseBenchJson() keeps a failed bench with its error and zero figures", () => {
  const run = parseBenchJson(JSON.stringify({
    version: 1,
    runtime: "Deno/x",
    cpu: "c",
    benches: [{
      origin: "o",
      group: "g",
      name: "n",
      baseline: false,
      results: [{ failed: "boom" }],
    }],
  }));
  assert.equal(run.benches[0]!.error, "boom");
  assert.equal(run.benches[0]!.avg, 0);
});

Deno.test("renderReport() gives the recorded run a table per suite between the markers", () => {
  const md = renderReport({
    run: parseBenchJson(sample),
    latency: [],
    memory: [],
    machine,
    models: [],
    notes: ["a note"],
  });
  assert.ok(md.startsWith(BEGIN) && md.trimEnd().endsWith(END));
  assert.match(md, /## Latency per digit \(batch 1\)\n/);
  assert.match(md, /### mnist-fc\n/);
  assert.match(md, /\| \*\*wasm\*\* \|.*\| 1\.00x \(baseline\) \|/);
  assert.match(md, /## Throughput \(predictBatch\)/);
  assert.match(md, /\| batch 64: images\/s \|/);
  assert.match(md, /## Load\n/);
  assert.match(md, /- Machine: Test CPU @ 1 GHz, 2 logical cores, linux/);
  assert.match(md, /- Note: a note/);
});

Deno.test("renderReport() computes ratios against the WASM module and images per second", () => {
  const latency: LatencySample[] = [
    { model: "m", engine: "ts", name: "TS", medianUs: 50, p90Us: 60, samples: 100, images: 100 },
    { model: "m", engine: "wasm", name: "W", medianUs: 10, p90Us: 12, samples: 100, images: 100 },
  ];
  const md = renderReport({
    run: knownRun(),
    latency,
    memory: [],
    machine,
    models: [{ id: "m", label: "m (test layout)", backend: "wasm-simd128" }],
    notes: [],
  });
  // Median ratio 50/10 = 5, deno bench average ratio 40/10 = 4; wasm listed first.
  const rows = md.split("\n").filter((l) =>
    l.startsWith("| ts | TS |") || l.startsWith("| **wasm** | W |")
  );
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /^\| \*\*wasm\*\* \| W \| 10\.0 us \| 12\.0 us \| 1\.00x/);
  assert.match(
    rows[1]!,
    /\| 50\.0 us \| 60\.0 us \| 5\.00x slower \| 40\.0 us \| 80\.0 us \| 4\.00x slower \|/,
  );
  // 64 images in 640 us = 100,000 images/s; ORT in half the time: 200,000 and 2.00x.
  assert.match(md, /\| \*\*wasm\*\* \| 100,000 \| 1\.00x \|/);
  assert.match(md, /\| ort-node-2t \| 200,000 \| 2\.00x \|/);
  assert.match(md, /\| m \(test layout\) \| 50\.0 us \| - \| - \| 2\.00 ms \| - \|/);
  assert.match(md, /Our module's backend: wasm-simd128/);
});

Deno.test("renderReport() lists memory with the process's peak RSS over the baseline", () => {
  const md = renderReport({
    run: knownRun(),
    latency: [],
    memory: [{
      model: "m",
      arenaBytes: 8272,
      weightBytes: 1_594_048,
      tsBytes: 2_150_000,
      tsGzipBytes: 1_580_000,
      jsBytes: 2_100_000,
      jsGzipBytes: 1_570_000,
      peakRssBytes: 80_000_000,
      baselineRssBytes: 60_000_000,
    }],
    machine,
    models: [{ id: "m", label: "m" }],
    notes: [],
  });
  assert.match(
    md,
    /\| m \| 8,272 \| 1,594,048 \| 2\.15 MB \/ 1\.58 MB \| 2\.10 MB \/ 1\.57 MB \| 80\.00 MB \| \+20\.00 MB \|/,
  );
});

Deno.test("spliceReport() replaces only the generated block and keeps the notes", () => {
  const old = `# Benchmarks\n\nintro\n\n${BEGIN}\nold figures\n${END}\n\n## Notes\n\nmine\n`;
  const out = spliceReport(old, `${BEGIN}\nnew figures\n${END}\n`);
  assert.equal(out, `# Benchmarks\n\nintro\n\n${BEGIN}\nnew figures\n${END}\n\n## Notes\n\nmine\n`);
});

Deno.test("spliceReport() keeps the text of a file without markers below the new block", () => {
  const out = spliceReport(
    "# Benchmarks\n\n## Compiler\n\nfigures by hand\n",
    `${BEGIN}\nx\n${END}\n`,
  );
  assert.ok(out.startsWith(`# Benchmarks\n\n${BEGIN}\nx\n${END}\n`));
  assert.match(out, /## Compiler\n\nfigures by hand\n/);
  assert.match(out, /## Notes\n/);
  // Splicing again is stable.
  assert.equal(spliceReport(out, `${BEGIN}\nx\n${END}\n`), out);
});

Deno.test("spliceReport() starts a new file with a title and the notes section", () => {
  const out = spliceReport(undefined, `${BEGIN}\nx\n${END}\n`);
  assert.ok(out.startsWith(`# Benchmarks\n\n${BEGIN}`));
  assert.match(out, /ggml HEAD batch\s+evaluation/);
});

Deno.test("quantiles() gives the median and the nearest-rank 90th percentile", () => {
  assert.deepEqual(quantiles([5, 1, 4, 2, 3]), { median: 3, p90: 5 });
  const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  assert.deepEqual(quantiles(ten), { median: 5.5, p90: 9 });
});

Deno.test("latencyChartSvg() draws one bar per engine on a log scale", () => {
  const svg = latencyChartSvg([{
    title: "m",
    bars: [
      { label: "wasm", micros: 10, highlight: true },
      { label: "ts", micros: 100 },
      { label: "interpreter", micros: 1000 },
    ],
  }]);
  const widths = [
    ...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g),
  ];
  assert.equal(widths.length, 3);
  const [w10, w100, w1000] = widths.map((m) => Number(m[1]));
  // Equal steps per decade (within the 0.1 px the widths are printed with).
  assert.ok(Math.abs((w100! - w10!) - (w1000! - w100!)) < 0.2, `${w10} ${w100} ${w1000}`);
  assert.match(svg, />100 us</);
  assert.match(svg, />1 ms</);
});

Deno.test("latencyChartPng() rasterises the chart to a PNG", async () => {
  const png = await latencyChartPng([{ title: "m", bars: [{ label: "wasm", micros: 12 }] }]);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});
