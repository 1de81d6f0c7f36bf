/**
 * `eval --module` and `run --module` with files that are not modules emitted by `ggufc
 * compile`: a model file, a module with no exports, a wrong `info`, one that throws on import,
 * one whose results are NaN from the start or turn NaN midway, or have the wrong length. Each
 * is one stderr line and exit 2; a real emitted module still runs.
 */
import assert from "node:assert/strict";
import { main } from "../main.ts";
import { EXIT_USAGE_ERROR } from "../ggml/errors.ts";
import { compileFile } from "../compiler/mod.ts";

const dir = Deno.makeTempDirSync({ prefix: "ggufc-cli-module-" });
const MODEL = new URL("../models/mnist-fc.gguf", import.meta.url).pathname;

function write(name: string, text: string | Uint8Array): string {
  const p = `${dir}/${name}`;
  if (typeof text === "string") Deno.writeTextFileSync(p, text);
  else Deno.writeFileSync(p, text);
  return p;
}

/** Runs `main(args)` with console output captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const stdout: string[] = [], stderr: string[] = [];
  const { error, log, warn, info } = console;
  console.error = console.warn = (...a: unknown[]) => stderr.push(a.join(" "));
  console.log = console.info = (...a: unknown[]) => stdout.push(a.join(" "));
  try {
    const code = await main(args);
    const lines = (l: string[]) => l.join("\n").split("\n").filter((x) => x !== "");
    return { code, stdout: lines(stdout), stderr: lines(stderr) };
  } finally {
    Object.assign(console, { error, log, warn, info });
  }
}

/** A module with the emitted API whose predictBatch returns `probs(count, call)`. */
function fake(
  name: string,
  probs: string,
  info = `{ name: "fake", inputLength: 784, classes: 10 }`,
) {
  return write(
    name,
    `export const info = ${info};
export async function load() {}
export function backend() { return "fake"; }
export function predict() { throw new Error("unused"); }
let call = 0;
export function predictBatch(images, count) {
  call++;
  return { digits: new Uint8Array(count), probabilities: ${probs} };
}
`,
  );
}

const NOT_EMITTED = /^ggufc (eval|run): module '.*' is not a module emitted by 'ggufc compile': /;

const cases: [string, string, RegExp][] = [
  ["a GGUF model named .js", write("model.js", Deno.readFileSync(MODEL)), /it is a model file/],
  ["a GGUF model", MODEL, /must end in \.ts, \.js or \.mjs/],
  ["an empty file", write("empty.js", ""), /it is empty/],
  ["a module with no exports", write("none.js", "export const x = 1;\n"), /no 'load' function/],
  [
    "a wrong info",
    fake(
      "info.js",
      "new Float32Array(count * 10)",
      `{ name: "x", inputLength: "784", classes: 10 }`,
    ),
    /info\.inputLength is a string, not a positive integer/,
  ],
  [
    "a module throwing on import",
    write("throws.js", 'throw new Error("boom");\n'),
    /importing it failed: boom$/,
  ],
  ["a syntax error", write("syntax.js", "export const = ;\n"), /importing it failed: /],
  [
    "NaN results",
    fake("nan.js", "new Float32Array(count * 10).fill(NaN)"),
    /probability 0 of image 0 is NaN$/,
  ],
  [
    "too few results",
    fake("short.js", "new Float32Array(count * 9)"),
    /returned 9 probabilities for 1 image/,
  ],
  ["a plain array", fake("array.js", "[0.1]"), /not a Float32Array/],
  [
    "results turning NaN midway",
    fake("later.js", "new Float32Array(count * 10).fill(call > 3 ? NaN : 0.1)"),
    /probability 0 of image \d+ is NaN$/,
  ],
];

for (const [what, path, pattern] of cases) {
  Deno.test(`eval and run --module: ${what} is one line and exit 2`, async () => {
    for (const cmd of ["eval", "run"]) {
      if (cmd === "run" && what === "results turning NaN midway") continue; // run makes one call
      const r = await cli([cmd, "--module", path, ...(cmd === "run" ? ["--index", "0"] : [])]);
      assert.equal(r.code, EXIT_USAGE_ERROR, `${cmd}: ${r.stderr.join(" | ")}`);
      assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
      assert.match(r.stderr[0]!, NOT_EMITTED);
      assert.match(r.stderr[0]!, pattern);
      assert.ok(!r.stdout.some((l) => l.includes("test_loss")), "no figures printed");
    }
  });
}

Deno.test("eval --module runs a real emitted module and prints finite figures", async () => {
  const { source } = compileFile(Deno.readFileSync(MODEL), "mnist-fc.gguf", { target: "ts" });
  const path = write("real.ts", source);
  const r = await cli(["eval", "--module", path, "--json"]);
  assert.equal(r.code, 0, r.stderr.join("\n"));
  const figures = JSON.parse(r.stdout.at(-1)!);
  assert.ok(Number.isFinite(figures.loss) && figures.accuracy > 0.9, r.stdout.at(-1));
});

Deno.test({
  name: "cli_module_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
