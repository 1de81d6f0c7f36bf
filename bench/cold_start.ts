/**
 * Cold start: what a fresh process pays from `import()` of a compiled module to its first
 * prediction, for the single-file module (the default) and `--split` (OUT.js + OUT.wasm), in
 * Deno and Node. Each figure is the median of `--runs` fresh processes (one measurement each:
 * a cold start happens once per process), so process start-up itself is not in it.
 *
 * The modules are written as `.mjs`: a `.js` file outside a `"type": "module"` package is parsed
 * by Node twice (as CommonJS first), which is a packaging matter, not the module's cost.
 *
 * Per process: `import` (read, parse and evaluate the module), `load()` (kernels compiled and
 * instantiated, weights decoded or read into WASM memory, one warm-up run), the first
 * `predict()`, the slowest of the first 10 calls, and a warm call (median of calls 200-300).
 *
 * Then where the milliseconds of the single-file path go, measured step by step in fresh
 * processes on the module's own pieces: parsing the module without its weights, parsing the
 * weights' base64 string alone, decoding it, writing it into fresh WASM memory, compiling and
 * instantiating the kernels, and their first run.
 *
 * Run: `deno run -A bench/cold_start.ts [--runs N] [--models id,id]` (prints markdown tables;
 * ids: mnist-fc, mnist-cnn, mnist-cnn-small, magika).
 *
 * @module
 */
import { compileFile } from "../compiler/mod.ts";
import { bundleJs } from "../compiler/emit/bundle.ts";
import { ROOT } from "./setup.ts";

const arg = (name: string, d: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : d;
};
const RUNS = arg("--runs", 9);
const DIR = `${ROOT}build/cold/`;
Deno.mkdirSync(DIR, { recursive: true });

/** The models, and the weight formats worth a row. */
const ALL_MODELS = [
  { id: "mnist-fc", file: "models/mnist-fc.gguf", weights: ["f32", "q8_0"] },
  { id: "mnist-cnn", file: "models/mnist-cnn.gguf", weights: ["f32"] },
  { id: "mnist-cnn-small", file: "models/mnist-cnn-small.gguf", weights: ["f32"] },
  { id: "magika", file: "models/magika.gguf", weights: ["f32"] },
] as const;
const only = Deno.args.includes("--models")
  ? Deno.args[Deno.args.indexOf("--models") + 1]!.split(",")
  : undefined;
const MODELS = ALL_MODELS.filter((m) => only === undefined || only.includes(m.id));

/**
 * The probe a fresh process runs (Deno or Node): times import, load, the first calls and a warm
 * one, prints one JSON line. Magika-like modules take file bytes, the digit models pixels.
 */
const PROBE = `const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const url = new URL(args[0], "file:///").href;
let t = performance.now();
const m = await import(url);
const importMs = performance.now() - t;
t = performance.now();
await m.load();
const loadMs = performance.now() - t;
const files = m.info.labels !== undefined;
const input = files ? new Uint8Array(3000).map((_, i) => (i * 7) & 255)
  : new Uint8Array(784).map((_, i) => (i * 13) % 256);
const calls = [];
for (let i = 0; i < 300; i++) {
  const a = performance.now();
  m.predict(input);
  calls.push(performance.now() - a);
}
const warm = calls.slice(200).sort((a, b) => a - b)[50];
console.log(JSON.stringify({ importMs, loadMs, first: calls[0], p99first10: Math.max(...calls.slice(0, 10)), warm }));
`;

/** Step-by-step probe of the single-file path's pieces (Deno: Uint8Array.fromBase64). */
const STEPS = `const [stripped, weightsOnly, kernels, weightsAt] = Deno.args;
const out = {};
let t = performance.now();
const lap = (name) => { const now = performance.now(); out[name] = now - t; t = now; };
await import(new URL(stripped, "file:///").href); lap("parseModule");
const w = await import(new URL(weightsOnly, "file:///").href); lap("parseWeights");
const bytes = Uint8Array.fromBase64(w.WEIGHTS); lap("decode");
const code = Uint8Array.fromBase64((await import(new URL(kernels, "file:///").href)).KERNELS);
t = performance.now();
const module = await WebAssembly.compile(code); lap("compile");
const { exports } = await WebAssembly.instantiate(module, { m: { exp: Math.exp } }); lap("instantiate");
new Uint8Array(exports.memory.buffer, Number(weightsAt), bytes.length).set(bytes); lap("memory");
exports.run(); lap("firstRun");
exports.run(); lap("secondRun");
console.log(JSON.stringify(out));
`;
Deno.writeTextFileSync(`${DIR}probe.mjs`, PROBE);
Deno.writeTextFileSync(`${DIR}steps.mjs`, STEPS);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Runs `cmd args` in RUNS fresh processes; the median of every JSON field. */
async function fresh(cmd: string, args: string[]): Promise<Record<string, number>> {
  const rows: Record<string, number>[] = [];
  for (let r = 0; r < RUNS; r++) {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (out.code !== 0) {
      throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    rows.push(JSON.parse(new TextDecoder().decode(out.stdout)));
  }
  return Object.fromEntries(Object.keys(rows[0]!).map((k) => [k, median(rows.map((x) => x[k]!))]));
}

const ms = (x: number) => x < 1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1);
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

console.log(
  `Cold start, median of ${RUNS} fresh processes each; load average ${Deno.loadavg().join(" ")}`,
);
const node = await new Deno.Command("node", { args: ["--version"] }).output();
console.log(`Deno ${Deno.version.deno}, Node ${new TextDecoder().decode(node.stdout).trim()}\n`);
console.log(
  "| model | weights | output | files | runtime | import | load() | first predict | total | slowest of first 10 | warm call |",
);
console.log("| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
const steps: string[] = [];
for (const model of MODELS) {
  const bytes = Deno.readFileSync(`${ROOT}${model.file}`);
  for (const weights of model.weights) {
    for (const split of [false, true]) {
      const stem = `${model.id}-${weights}${split ? "-split" : ""}`;
      const r = compileFile(bytes, model.file.split("/").pop()!, {
        weights,
        ...(split ? { weightsFile: `${stem}.wasm` } : {}),
      });
      const js = await bundleJs(r.source);
      Deno.writeTextFileSync(`${DIR}${stem}.mjs`, js);
      if (r.weightsWasm) Deno.writeFileSync(`${DIR}${stem}.wasm`, r.weightsWasm);
      const files = split ? `${kb(js.length)} + ${kb(r.weightsWasm!.length)}` : kb(js.length);
      for (
        const [runtime, cmd, args] of [
          ["Deno", Deno.execPath(), ["run", "-A", `${DIR}probe.mjs`, `${DIR}${stem}.mjs`]],
          ["Node", "node", [`${DIR}probe.mjs`, `${DIR}${stem}.mjs`]],
        ] as const
      ) {
        const x = await fresh(cmd, [...args]);
        console.log(
          `| ${model.id} | ${weights} | ${
            split ? "--split" : "single file"
          } | ${files} | ${runtime} | ${ms(x.importMs!)} | ${ms(x.loadMs!)} | ${ms(x.first!)} | ${
            ms(x.importMs! + x.loadMs! + x.first!)
          } | ${ms(x.p99first10!)} | ${ms(x.warm!)} |`,
        );
      }
      if (split || weights !== "f32") continue;
      // The single-file module's pieces, for the step-by-step table.
      const weightsB64 = /^const WEIGHTS = ("[^"]*");$/m.exec(r.source)![1]!;
      const relaxed = /^const WASM_RELAXED = ("[^"]*");$/m.exec(r.source)![1]!;
      const weightsAt = /^const WEIGHTS_AT = (\d+);$/m.exec(r.source)![1]!;
      Deno.writeTextFileSync(
        `${DIR}${stem}.weights-only.mjs`,
        `export const WEIGHTS = ${weightsB64};\n`,
      );
      Deno.writeTextFileSync(`${DIR}${stem}.kernels.mjs`, `export const KERNELS = ${relaxed};\n`);
      Deno.writeTextFileSync(
        `${DIR}${stem}.stripped.mjs`,
        await bundleJs(r.source.replace(/^const WEIGHTS = "[^"]*";$/m, 'const WEIGHTS = "";')),
      );
      const s = await fresh(Deno.execPath(), [
        "run",
        "-A",
        `${DIR}steps.mjs`,
        `${DIR}${stem}.stripped.mjs`,
        `${DIR}${stem}.weights-only.mjs`,
        `${DIR}${stem}.kernels.mjs`,
        weightsAt,
      ]);
      steps.push(
        `| ${model.id} | ${kb(js.length)} | ${ms(s.parseModule!)} | ${ms(s.parseWeights!)} | ${
          ms(s.decode!)
        } | ${ms(s.memory!)} | ${ms(s.compile!)} | ${ms(s.instantiate!)} | ${ms(s.firstRun!)} | ${
          ms(s.secondRun!)
        } |`,
      );
    }
  }
}
console.log(
  "\nWhere the single-file path's milliseconds go (Deno, fresh processes, step by step):\n",
);
console.log(
  "| model | module | parse module without weights | parse weights string | base64 decode | into fresh WASM memory | compile kernels | instantiate | first run | second run |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const line of steps) console.log(line);

/** Cost of a first touch of fresh memory on this machine (page faults), for the notes. */
const touch = await fresh(Deno.execPath(), [
  "eval",
  `const b = new Uint8Array(16 << 20); const t = performance.now(); for (let i = 0; i < b.length; i += 4096) b[i] = 1; console.log(JSON.stringify({ usPerPage: (performance.now() - t) * 1000 / 4096 }));`,
]);
console.log(
  `\nFirst touch of fresh memory: ${
    touch.usPerPage!.toFixed(2)
  } us per 4 KiB page (16 MiB written one byte per page).`,
);
