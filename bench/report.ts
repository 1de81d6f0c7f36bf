/**
 * `deno task bench:report`: runs the benchmark suites ({@link SUITES}, with `--json`), times
 * per-digit latency again in its own loop (deno bench reports no median, so median and p90
 * come from that loop's per-call samples), measures memory in subprocesses, and writes
 * BENCHMARKS.md and the chart bench/latency.png.
 *
 * Only the block between the `generated` markers of BENCHMARKS.md is rewritten; everything
 * outside it (the hand-written notes, other sections) is kept.
 *
 * Flags: `--out FILE` (default BENCHMARKS.md), `--png FILE` (default bench/latency.png),
 * `--bench-json FILE` (use a saved `deno bench --json` output instead of running the suites).
 *
 * @example
 * ```ts ignore
 * import { parseBenchJson, renderReport } from "./report.ts";
 * const run = parseBenchJson(await Deno.readTextFile("tests/fixtures/bench-sample.json"));
 * console.log(renderReport({ run, latency: [], memory: [], machine, models: [], notes: [] }));
 * ```
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, relative, resolve, sep } from "node:path";
import { formatMicros, latencyChartPng } from "./chart.ts";

/** One benchmark of a `deno bench --json` run; times in nanoseconds. */
export interface BenchStat {
  readonly origin: string;
  readonly group: string;
  readonly name: string;
  readonly baseline: boolean;
  /** Set when the bench failed; the figures are then 0. */
  readonly error?: string;
  readonly n: number;
  readonly avg: number;
  readonly min: number;
  readonly max: number;
  readonly p75: number;
  readonly p99: number;
}

/** A parsed `deno bench --json` run. */
export interface BenchRun {
  readonly runtime: string;
  readonly cpu: string;
  readonly benches: readonly BenchStat[];
}

/**
 * Parses the output of `deno bench --json`.
 *
 * @param text the JSON text (version 1)
 * @returns the runtime, CPU and every bench with its statistics
 * @throws Error when the text is not a version-1 deno bench report
 */
export function parseBenchJson(text: string): BenchRun {
  const start = text.indexOf("{");
  // deno bench may print stray lines (console.log of a bench file) before the JSON.
  const doc = JSON.parse(start > 0 ? text.slice(start) : text) as Record<string, unknown>;
  if (doc.version !== 1 || !Array.isArray(doc.benches)) {
    throw new Error(`not a deno bench --json report (version ${String(doc.version)})`);
  }
  const benches = (doc.benches as Record<string, unknown>[]).map((b): BenchStat => {
    const results = (b.results ?? []) as Record<string, unknown>[];
    const ok = results[0]?.ok as Record<string, number> | undefined;
    const base = {
      origin: String(b.origin ?? ""),
      group: String(b.group ?? ""),
      name: String(b.name ?? ""),
      baseline: b.baseline === true,
    };
    if (!ok) {
      const failed = results[0]?.failed ?? results[0] ?? "no result";
      return {
        ...base,
        error: typeof failed === "string" ? failed : JSON.stringify(failed),
        n: 0,
        avg: 0,
        min: 0,
        max: 0,
        p75: 0,
        p99: 0,
      };
    }
    return {
      ...base,
      n: ok.n ?? 0,
      avg: ok.avg ?? 0,
      min: ok.min ?? 0,
      max: ok.max ?? 0,
      p75: ok.p75 ?? 0,
      p99: ok.p99 ?? 0,
    };
  });
  return { runtime: String(doc.runtime ?? ""), cpu: String(doc.cpu ?? ""), benches };
}

/** Per-digit latency of one engine from the report's own timing loop. */
export interface LatencySample {
  /** Model id (`mnist-cnn`). */
  readonly model: string;
  /** Engine id (`wasm`, `ort-node-2t`, ...). */
  readonly engine: string;
  /** What runs, e.g. `onnxruntime-web 1.30.0 (wasm, 1 thread)`. */
  readonly name: string;
  readonly medianUs: number;
  readonly p90Us: number;
  /** Calls timed. */
  readonly samples: number;
  /** Distinct test images rotated through. */
  readonly images: number;
}

/** Memory figures of one model. */
export interface MemoryRow {
  readonly model: string;
  readonly arenaBytes: number;
  readonly weightBytes: number;
  /** The emitted WASM-target `.ts` module and its esbuild `.js`, raw and gzip. */
  readonly tsBytes: number;
  readonly tsGzipBytes: number;
  readonly jsBytes: number;
  readonly jsGzipBytes: number;
  /** Peak RSS of a process after 10,000 predictions, and of the same process without a model. */
  readonly peakRssBytes: number;
  readonly baselineRssBytes: number;
}

/** Where and when the figures were taken. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly deno: string;
  readonly v8: string;
  readonly typescript: string;
  readonly os: string;
  /** ISO date-time. */
  readonly date: string;
  /** The command that produced the report. */
  readonly command: string;
}

/** A model as the report lists it. */
export interface ModelEntry {
  readonly id: string;
  /** e.g. `mnist-cnn (seed-cnn, trained)`. */
  readonly label: string;
  /** The module's backend after load, e.g. `wasm-relaxed-simd`. */
  readonly backend?: string;
}

/** Everything {@link renderReport} needs. */
export interface ReportData {
  readonly run: BenchRun;
  readonly latency: readonly LatencySample[];
  readonly memory: readonly MemoryRow[];
  readonly machine: Machine;
  readonly models: readonly ModelEntry[];
  /** Substitutions and skips (a missing trained model, absent fixtures). */
  readonly notes: readonly string[];
  /** Path of the chart relative to BENCHMARKS.md; omitted: no chart line. */
  readonly chart?: string;
}

/**
 * The suites the report runs (other bench files under bench/, e.g. the compiler's kernel and
 * the trainer's benchmarks, are left to `deno task bench`).
 */
export const SUITES: readonly string[] = [
  "bench/load.bench.ts",
  "bench/latency.bench.ts",
  "bench/throughput.bench.ts",
];

/** Marks the start of the block the report task rewrites. */
export const BEGIN = "<!-- generated by deno task bench:report: begin (edits inside are lost) -->";
/** Marks its end. */
export const END = "<!-- generated by deno task bench:report: end -->";

/** Engine ids in table order; others follow alphabetically. */
const ORDER = [
  "wasm",
  "wasm-pool2",
  "wasm-b1",
  "ts",
  "interpreter",
  "ort-web",
  "ort-node-1t",
  "ort-node-2t",
  "tfjs-wasm",
];

function engineRank(id: string): number {
  const i = ORDER.indexOf(id);
  return i < 0 ? ORDER.length : i;
}

function byEngine<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => engineRank(key(a)) - engineRank(key(b)) || key(a).localeCompare(key(b));
}

/** `1234567` -> `1,234,567`. */
function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Bytes as `1.23 MB` / `45.6 kB` / `789 B` (decimal units), with the exact count. */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Nanoseconds for a table cell. */
export function formatNs(ns: number): string {
  return formatMicros(ns / 1000);
}

/** A time ratio against our module: `1.00x`, `3.2x slower`, `2.5x faster`. */
export function formatRatio(time: number, wasmTime: number): string {
  if (!(time > 0) || !(wasmTime > 0)) return "-";
  const r = time / wasmTime;
  if (Math.abs(r - 1) < 0.005) return "1.00x (baseline)";
  return r > 1 ? `${r.toFixed(2)}x slower` : `${(1 / r).toFixed(2)}x faster`;
}

/** A markdown table; the first `text` columns align left, the rest (figures) right. */
function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  text = 1,
): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i < text ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** The model id of a bench group `"<model> latency"` etc. */
function groupModel(group: string, suffix: string): string | undefined {
  return group.endsWith(suffix) ? group.slice(0, -suffix.length) : undefined;
}

function latencySection(data: ReportData, model: ModelEntry): string[] {
  const benches = data.run.benches.filter((b) => b.group === `${model.id} latency`);
  const own = data.latency.filter((s) => s.model === model.id);
  if (benches.length === 0 && own.length === 0) return [];
  const ids = [...new Set([...own.map((s) => s.engine), ...benches.map((b) => b.name)])].sort(
    byEngine((x) => x),
  );
  const wasmOwn = own.find((s) => s.engine === "wasm");
  const wasmBench = benches.find((b) => b.baseline) ?? benches.find((b) => b.name === "wasm");
  const rows = ids.map((id) => {
    const s = own.find((x) => x.engine === id);
    const b = benches.find((x) => x.name === id);
    return [
      id === "wasm" ? `**${id}**` : id,
      s?.name ?? "",
      s ? formatMicros(s.medianUs) : "-",
      s ? formatMicros(s.p90Us) : "-",
      s && wasmOwn ? formatRatio(s.medianUs, wasmOwn.medianUs) : "-",
      b ? (b.error ? `failed: ${b.error}` : formatNs(b.avg)) : "-",
      b && !b.error ? formatNs(b.p99) : "-",
      b && wasmBench && !b.error ? formatRatio(b.avg, wasmBench.avg) : "-",
      s ? `${int(s.samples)} / ${int(s.images)}` : "-",
    ];
  });
  return [
    `### ${model.label}`,
    "",
    ...table(
      [
        "engine",
        "what runs",
        "median",
        "p90",
        "median vs WASM",
        "deno bench avg",
        "deno bench p99",
        "avg vs WASM",
        "calls / images",
      ],
      rows,
      2,
    ),
    "",
  ];
}

function throughputSection(data: ReportData, model: ModelEntry): string[] {
  const groups = [
    ...new Set(
      data.run.benches.map((b) => b.group).filter((g) =>
        groupModel(g, "") !== undefined && g.startsWith(`${model.id} throughput batch `)
      ),
    ),
  ];
  if (groups.length === 0) return [];
  const batches = groups.map((g) => Number(g.slice(`${model.id} throughput batch `.length)))
    .sort((a, b) => a - b);
  const ids = [
    ...new Set(data.run.benches.filter((b) => groups.includes(b.group)).map((b) => b.name)),
  ].sort(byEngine((x) => x));
  const head = ["engine"];
  for (const n of batches) head.push(`batch ${n}: images/s`, `batch ${n}: vs WASM`);
  const rows = ids.map((id) => {
    const row = [id === "wasm" ? `**${id}**` : id];
    for (const n of batches) {
      const group = data.run.benches.filter((b) => b.group === `${model.id} throughput batch ${n}`);
      const b = group.find((x) => x.name === id);
      const w = group.find((x) => x.baseline) ?? group.find((x) => x.name === "wasm");
      if (!b || b.error || !(b.avg > 0)) {
        row.push(b?.error ? "failed" : "-", "-");
        continue;
      }
      const perSecond = (n * 1e9) / b.avg;
      const wPerSecond = w && w.avg > 0 ? (n * 1e9) / w.avg : 0;
      row.push(
        int(perSecond),
        wPerSecond > 0 ? `${(perSecond / wPerSecond).toFixed(2)}x` : "-",
      );
    }
    return row;
  });
  return [`### ${model.label}`, "", ...table(head, rows), ""];
}

/** Load stages in table order (bench names in bench/load.bench.ts). */
const LOAD_STAGES = [
  "read + parse",
  "graph",
  "emit",
  "instantiate",
  "import + load",
  "+ first predict",
  "--split: + first predict",
];

function loadSection(data: ReportData): string[] {
  const rows = data.models.flatMap((m) => {
    const group = data.run.benches.filter((b) => b.group === `${m.id} load`);
    if (group.length === 0) return [];
    return [[
      m.label,
      ...LOAD_STAGES.map((s) => {
        const b = group.find((x) => x.name === s);
        return !b ? "-" : b.error ? "failed" : formatNs(b.avg);
      }),
    ]];
  });
  if (rows.length === 0) return [];
  return [
    "## Load",
    "",
    "deno bench average per call. `read + parse`: read the model file and parse it (GGUF or " +
    "legacy); `graph`: frontend (parses again and builds the graph) + graph passes + lowering + " +
    "plan passes; `emit`: WASM codegen + module emission from the plan; `instantiate`: `load()` " +
    "of a freshly imported copy of the bundled `.js` module, the import untimed (WASM compiled " +
    "and instantiated, weights decoded into its memory: what a deployed user pays once the file " +
    "is read and evaluated); `import + load`: the same with the `import()` timed too (the module " +
    "is parsed and evaluated again) followed by `load()`; `+ first predict`: and the first " +
    "`predict()`; `--split: + first predict`: the same for the module compiled `--split` (OUT.js " +
    "+ OUT.wasm). All in one warm process; fresh processes: `deno run -A bench/cold_start.ts`.",
    "",
    ...table(["model", ...LOAD_STAGES], rows),
    "",
  ];
}

function memorySection(data: ReportData): string[] {
  if (data.memory.length === 0) return [];
  const rows = data.memory.map((r) => {
    const label = data.models.find((m) => m.id === r.model)?.label ?? r.model;
    return [
      label,
      int(r.arenaBytes),
      int(r.weightBytes),
      `${formatBytes(r.tsBytes)} / ${formatBytes(r.tsGzipBytes)}`,
      `${formatBytes(r.jsBytes)} / ${formatBytes(r.jsGzipBytes)}`,
      formatBytes(r.peakRssBytes),
      `+${formatBytes(Math.max(0, r.peakRssBytes - r.baselineRssBytes))}`,
    ];
  });
  const base = data.memory[0]!.baselineRssBytes;
  return [
    "## Memory",
    "",
    `Arena and weight bytes from the module's \`info\`; module sizes raw / gzip (node:zlib, ` +
    `default level) for the WASM-target \`.ts\` and its esbuild \`.js\`. Peak RSS: a fresh ` +
    `\`deno run\` process (bench/memory.ts) that loads the \`.js\` module and runs 10,000 ` +
    `predictions; the last column subtracts the same process without a model ` +
    `(${formatBytes(base)}: Deno plus the MNIST test set).`,
    "",
    ...table(
      [
        "model",
        "arena bytes",
        "weight bytes",
        ".ts raw / gzip",
        ".js raw / gzip",
        "peak RSS",
        "over baseline",
      ],
      rows,
    ),
    "",
  ];
}

/**
 * Renders the generated block of BENCHMARKS.md (between {@link BEGIN} and {@link END}).
 *
 * @param data the run, the own latency samples, memory figures and the machine
 * @returns markdown
 */
export function renderReport(data: ReportData): string {
  const m = data.machine;
  const models = data.models.filter((x) =>
    data.run.benches.some((b) => b.group.startsWith(`${x.id} `)) ||
    data.latency.some((s) => s.model === x.id)
  );
  const listed = new Set(models.map((x) => x.id));
  // Groups of models not in `models` (e.g. a recorded run) are shown under their bare id.
  for (const b of data.run.benches) {
    const id = groupModel(b.group, " latency") ?? groupModel(b.group, " load") ??
      b.group.replace(/ throughput batch \d+$/, "");
    if (!listed.has(id)) {
      listed.add(id);
      models.push({ id, label: id });
    }
  }
  const full: ReportData = { ...data, models };
  const lines = [
    BEGIN,
    "",
    `Generated ${m.date} by \`${m.command}\` (\`deno bench -A --json ${SUITES.join(" ")}\`, ` +
    `then its own timing loop and memory probes).`,
    "",
    `- Machine: ${m.cpu}, ${m.cores} logical cores, ${m.os}`,
    `- Runtime: Deno ${m.deno}, V8 ${m.v8}, TypeScript ${m.typescript}` +
    (data.run.runtime ? ` (deno bench: ${data.run.runtime})` : ""),
    `- Our module's backend: ${
      [...new Set(models.map((x) => x.backend).filter((x) => x))].join(", ") || "-"
    }; every engine single-threaded except ort-node-2t`,
    ...data.notes.map((n) => `- Note: ${n}`),
    "",
    "Every engine runs the same weights (peers get them from the project's ONNX export or, " +
    "for TF.js, layers built from the GGUF tensors) and is checked at set-up to pick the same " +
    "digit as our WASM module on every image it runs (near-ties within 1e-5 excepted); a " +
    "disagreement aborts the run.",
    "",
  ];
  if (data.chart) lines.push(`![Per-digit latency per engine](${data.chart})`, "");
  const latency = models.flatMap((x) => latencySection(full, x));
  if (latency.length > 0) {
    lines.push(
      "## Latency per digit (batch 1)",
      "",
      "`predict()` on one image at a time, rotating through MNIST test images (1,000; the " +
        "reference interpreter 50). Median and p90 come from the report's own loop, one " +
        "`performance.now()` pair per call (deno bench gives no median); `deno bench avg` / " +
        "`p99` are from `deno bench --json` on the same engines. Ratios are time / our WASM " +
        "module's time.",
      "",
      ...latency,
    );
  }
  const throughput = models.flatMap((x) => throughputSection(full, x));
  if (throughput.length > 0) {
    lines.push(
      "## Throughput (predictBatch)",
      "",
      "Images per second = batch / deno bench average time per call; `vs WASM` > 1 is faster " +
        "than our module. `wasm`: `predictBatch` (whole chunks through the batch kernels, " +
        "`runBatch`; the rest image by image); `wasm-b1`: the same model compiled without the " +
        "batch path; `wasm-pool2`: `createPool(2)`.",
      "",
      ...throughput,
    );
  }
  lines.push(...loadSection(full), ...memorySection(full), END);
  return lines.join("\n") + "\n";
}

/** The notes section written when BENCHMARKS.md has none yet. */
export const DEFAULT_NOTES = `## Notes

Hand-written; \`deno task bench:report\` keeps everything outside the generated block.

- Native ggml on this machine (AVX-512), for context: the seed-era per-digit path, one thread
  (graph built per digit): seed FC 22 us per digit, seed CNN 527 us per digit. ggml HEAD batch
  evaluation (batch 500, 2 threads): mnist-fc 10 us per image, mnist-cnn-small 150 us per image.
- Targets for the emitted WASM module (one thread, from the compiler issue): seed CNN <= 130 us
  per digit, seed FC <= 22 us, ggml HEAD cnn-small <= 50 us; instantiate <= 1 ms (CNN),
  <= 2 ms (FC).
- The machine is shared: figures of one run move by 10-30 % with other load. Compare ratios
  within one run rather than absolute times across runs.
- Reproduce: \`deno task bench\` prints every group with the peers side by side;
  \`deno task bench:report\` regenerates this file and bench/latency.png.
`;

/**
 * Puts the generated block into BENCHMARKS.md text, keeping everything outside the markers.
 * A file without markers keeps its content after the block (under its own headings); a new
 * file gets a title and {@link DEFAULT_NOTES}.
 *
 * @param existing the current BENCHMARKS.md, or undefined when there is none
 * @param generated the block from {@link renderReport}
 * @returns the new file text
 */
export function spliceReport(existing: string | undefined, generated: string): string {
  const block = generated.endsWith("\n") ? generated : generated + "\n";
  if (existing === undefined || existing.trim() === "") {
    return `# Benchmarks\n\n${block}\n${DEFAULT_NOTES}`;
  }
  const b = existing.indexOf(BEGIN), e = existing.indexOf(END);
  if (b >= 0 && e > b) {
    let after = existing.slice(e + END.length);
    if (after.startsWith("\n")) after = after.slice(1);
    return existing.slice(0, b) + block + after;
  }
  // No markers yet: put the block under the title and keep the old text below it.
  const title = existing.match(/^# .*\n/m);
  if (title && title.index !== undefined) {
    const at = title.index + title[0].length;
    const rest = existing.slice(at).replace(/^\n+/, "");
    const notes = /^## Notes\b/m.test(rest) ? "" : `\n${DEFAULT_NOTES}`;
    return `${existing.slice(0, at)}\n${block}\n${rest}${notes}`;
  }
  return `# Benchmarks\n\n${block}\n${existing}`;
}

/** The machine this process runs on. */
export function describeMachine(command: string): Machine {
  let cpu = cpus()[0]?.model ?? "unknown CPU";
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m);
    if (line) cpu = line[1]!.trim();
  } catch { /* not Linux */ }
  let os: string = Deno.build.os;
  try {
    os = `${Deno.build.os} ${Deno.osRelease()}`;
  } catch { /* no permission */ }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    os,
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command,
  };
}

/** Median and 90th percentile of samples (nearest rank on the sorted values). */
export function quantiles(samples: readonly number[]): { median: number; p90: number } {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return { median: NaN, p90: NaN };
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, p90: at(0.9) };
}

/** gzip size with node:zlib's default level. */
function gzipBytes(text: string): number {
  return gzipSync(new TextEncoder().encode(text)).byteLength;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${name} needs a value`);
  return v;
}

async function main(args: string[]): Promise<void> {
  const known = ["--out", "--png", "--bench-json"];
  for (let i = 0; i < args.length; i += 2) {
    if (!known.includes(args[i]!)) {
      throw new Error(`unknown flag '${args[i]}' (known: ${known.join(", ")})`);
    }
  }
  const out = flag(args, "--out") ?? "BENCHMARKS.md";
  const png = flag(args, "--png") ?? "bench/latency.png";
  const savedJson = flag(args, "--bench-json");
  const setup = await import("./setup.ts");
  const { measurePeakRss } = await import("./memory.ts");
  const smoke = setup.SMOKE ? "GGUFC_BENCH_SMOKE=1 " : "";
  const command = `${smoke}deno task bench:report${args.length ? " " + args.join(" ") : ""}`;

  // 1. The suites, in a subprocess (nothing else of ours runs meanwhile).
  let jsonText: string;
  if (savedJson) {
    jsonText = await Deno.readTextFile(savedJson);
  } else {
    console.error(`running deno bench -A --json ${SUITES.join(" ")} ...`);
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["bench", "-A", "--json", ...SUITES],
      cwd: setup.ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    jsonText = new TextDecoder().decode(res.stdout);
    if (!res.success) throw new Error(`deno bench failed (exit ${res.code})`);
    Deno.mkdirSync(setup.BUILD_DIR, { recursive: true });
    await Deno.writeTextFile(`${setup.BUILD_DIR}bench.json`, jsonText);
  }
  const run = parseBenchJson(jsonText);

  // 2. Own timing loop: median and p90 per engine, batch 1.
  const images = setup.testImages(setup.ROTATE);
  const latency: LatencySample[] = [];
  const memory: MemoryRow[] = [];
  const models: ModelEntry[] = [];
  const baseline = await measurePeakRss(null);
  for (const spec of setup.benchModels()) {
    console.error(`timing ${spec.id} ...`);
    const model = await setup.prepareModel(spec);
    models.push({ id: spec.id, label: model.label, backend: model.wasm.backend() });
    const engines = await setup.makeEngines(model, images);
    try {
      for (const engine of engines) {
        const fn = setup.rotating(engine, images);
        const slow = engine.id === "interpreter";
        const warm = setup.SMOKE ? 2 : slow ? 3 : 200;
        for (let i = 0; i < warm; i++) await fn();
        const maxSamples = setup.SMOKE ? 20 : slow ? 60 : 5000;
        const budgetMs = setup.SMOKE ? 200 : 2000;
        const samples: number[] = [];
        const t0 = performance.now();
        while (
          samples.length < maxSamples && (performance.now() - t0 < budgetMs || samples.length < 10)
        ) {
          const a = performance.now();
          if (engine.sync) fn();
          else await fn();
          samples.push((performance.now() - a) * 1000);
        }
        const q = quantiles(samples);
        latency.push({
          model: spec.id,
          engine: engine.id,
          name: engine.name,
          medianUs: q.median,
          p90Us: q.p90,
          samples: samples.length,
          images: engine.rotate,
        });
      }
    } finally {
      await Promise.all(engines.map((e) => e.dispose()));
    }
    // 3. Memory.
    const js = await Deno.readTextFile(model.paths.wasmJs);
    const ts = model.compiled.wasm.source;
    const rss = await measurePeakRss(model.paths.wasmJs);
    memory.push({
      model: spec.id,
      arenaBytes: model.wasm.info.arenaBytes,
      weightBytes: model.wasm.info.weightBytes,
      tsBytes: new TextEncoder().encode(ts).byteLength,
      tsGzipBytes: gzipBytes(ts),
      jsBytes: new TextEncoder().encode(js).byteLength,
      jsGzipBytes: gzipBytes(js),
      peakRssBytes: rss.peakRssBytes,
      baselineRssBytes: baseline.peakRssBytes,
    });
  }

  // 4. Chart and file.
  const panels = models.map((m) => ({
    title: m.label,
    bars: latency.filter((s) => s.model === m.id).sort(byEngine((s) => s.engine)).map((s) => ({
      label: s.engine,
      micros: s.medianUs,
      highlight: s.engine === "wasm",
    })),
  }));
  await Deno.writeFile(png, await latencyChartPng(panels));
  const rel = relativeTo(out, png);
  const generated = renderReport({
    run,
    latency,
    memory,
    machine: describeMachine(command),
    models,
    notes: [...setup.modelNotes],
    chart: rel,
  });
  let existing: string | undefined;
  try {
    existing = await Deno.readTextFile(out);
  } catch { /* new file */ }
  await Deno.writeTextFile(out, spliceReport(existing, generated));
  // Aligned tables, as `deno fmt` (run by the project's checks) would leave them.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out], stderr: "inherit" })
    .output();
  console.error(`wrote ${out} and ${png}`);
}

/** Path of `target` relative to the directory of `from` (both relative to the cwd). */
function relativeTo(from: string, target: string): string {
  return relative(dirname(resolve(from)), resolve(target)).split(sep).join("/");
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`bench:report: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  }
}
