/**
 * The Magika section of BENCHMARKS.md (bench/magika_report.ts) from a given deno bench run:
 * ratios to our f32 module, files/s, the targets met or not, the host named, and the section
 * replaced in place without touching the rest of the file.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { MAGIKA_BEGIN, MAGIKA_END, renderMagika, spliceMagika } from "../bench/magika_report.ts";
import type { BenchRun, BenchStat } from "../bench/report.ts";

function stat(group: string, name: string, avgMs: number): BenchStat {
  const ns = avgMs * 1e6;
  return {
    origin: "",
    group,
    name,
    baseline: name === "wasm-f32",
    n: 10,
    avg: ns,
    min: ns,
    max: ns,
    p75: ns,
    p99: ns * 2,
  };
}

const run: BenchRun = {
  runtime: "Deno 2.9.6",
  cpu: "AMD EPYC",
  benches: [
    stat("magika latency", "wasm-f32", 4),
    stat("magika latency", "wasm-q8_0", 3),
    stat("magika latency", "ort-web", 10),
    stat("magika throughput batch 64", "wasm-f32", 256),
    stat("magika throughput batch 64", "pool-2", 160),
    stat("magika load", "import + load", 12),
  ],
};

Deno.test("the Magika section: ratios, files/s and each target met or not", () => {
  const text = renderMagika(run, "AMD EPYC, 2 logical cores", "deno task bench:magika");
  assert(text.startsWith(MAGIKA_BEGIN) && text.trimEnd().endsWith(MAGIKA_END));
  assert(text.includes("on AMD EPYC, 2 logical cores"), text);
  assert(text.includes("| ort-web | 10.0 ms | 10.0 ms | 20.0 ms | 2.50x slower |"), text);
  assert(text.includes("| wasm-q8_0 | 3.00 ms | 3.00 ms | 6.00 ms | 1.33x faster |"), text);
  assert(text.includes("| pool-2 | 160.0 ms | 400 | 1.60x faster |"), text);
  const targets = text.slice(text.indexOf("### Targets"));
  assert(targets.includes("| per file, f32, 1 thread | <= 5.00 ms | 4.00 ms | yes |"), targets);
  assert(
    targets.includes("| per file, f32 / onnxruntime-web (same run) | <= 0.50x | 0.40x | yes |"),
  );
  assert(targets.includes("| per file, q8_0, 1 thread | <= 2.50 ms | 3.00 ms | no |"));
  assert(targets.includes("| createPool(2), batch of 64 | >= 500 files/s | 400 files/s | no |"));
  assert(targets.includes("| import + load() of the bundled module | <= 10.0 ms | 12.0 ms | no |"));
  assert(text.includes("18-21 ms per file"), "ggml's figures as context");
});

Deno.test("a run without our module says so: its targets are not measured", () => {
  const peers: BenchRun = { ...run, benches: [stat("magika latency", "ort-web", 10)] };
  const text = renderMagika(peers, "h", "c", ["our compiled module is not timed: x"]);
  assert(text.includes("- Note: our compiled module is not timed: x"));
  assert(text.includes("| ort-web | 10.0 ms | 10.0 ms | 20.0 ms | - |"), text);
  assert(text.includes("| per file, f32, 1 thread | <= 5.00 ms | - | not measured |"), text);
});

Deno.test("spliceMagika replaces its block and keeps the rest of BENCHMARKS.md", () => {
  const first = spliceMagika(
    "# Benchmarks\n\nMNIST text\n",
    `${MAGIKA_BEGIN}\nold\n${MAGIKA_END}\n`,
  );
  assertEquals(first, `# Benchmarks\n\nMNIST text\n\n${MAGIKA_BEGIN}\nold\n${MAGIKA_END}\n`);
  const second = spliceMagika(first + "\n## Notes\n", `${MAGIKA_BEGIN}\nnew\n${MAGIKA_END}\n`);
  assertEquals(
    second,
    `# Benchmarks\n\nMNIST text\n\n${MAGIKA_BEGIN}\nnew\n${MAGIKA_END}\n\n## Notes\n`,
  );
});
