/**
 * The fuzzer's file-system and crafted-GGUF cases, through the real CLI:
 *
 * - every special path (tools/fuzz/special_files.ts: FIFO, socket, devices, folder, symlink
 *   loops, a path through a file, a 300-byte name, empty and huge sparse files) as the model of
 *   every model command, and every special output path for every writing command: one line,
 *   the expected exit, never a hang, and no more bytes read than the case allows (counted by
 *   the file layer);
 * - every aliased, overlapping or swapped tensor offset of every GGUF seed
 *   (tools/fuzz/crafted.ts): rejected with a FormatError about an offset, by the reader and by
 *   `ggufc info`;
 * - every string of every GGUF seed starting with a terminal control character: `info` (text
 *   and --json) and the error lines of `run` print no raw control character.
 */
import assert from "node:assert/strict";
import { main } from "../main.ts";
import { MODEL_MAX_BYTES, readCounters, resetReadCounters } from "../cli/files.ts";
import { readGguf } from "../ggml/gguf_reader.ts";
import { FormatError } from "../ggml/errors.ts";
import { aliasedOffsetCases, controlCharCases } from "../tools/fuzz/crafted.ts";
import { makeSpecialFiles } from "../tools/fuzz/special_files.ts";
import { seedsOf } from "../tools/fuzz/seeds.ts";
import { isExpectedError, runTarget } from "../tools/fuzz/targets.ts";

const dir = Deno.makeTempDirSync({ prefix: "ggufc-fuzz-files-" });
const MODEL = new URL("../models/mnist-fc.gguf", import.meta.url).pathname;
/** What a terminal would act on; stdout may hold line breaks between lines, nothing else. */
// deno-lint-ignore no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const { error, log, warn, info } = console;
  console.error = console.warn = (...a: unknown[]) => err.push(a.join(" "));
  console.log = console.info = (...a: unknown[]) => out.push(a.join(" "));
  try {
    const code = await main(args);
    return { code, out: out.join("\n"), err: err.join("\n").split("\n").filter((l) => l) };
  } finally {
    Object.assign(console, { error, log, warn, info });
  }
}

function oneLine(r: { code: number; err: string[] }, code: number, what: string): void {
  assert.equal(r.code, code, `${what}: ${r.err.join(" | ")}`);
  assert.equal(r.err.length, 1, `${what}: ${r.err.join("\n")}`);
  assert.doesNotMatch(r.err[0]!, /\bat .*\.ts:\d+/, `${what}: no stack frame`);
}

Deno.test("special files as the model of every model command: one line, the right exit, bounded reads", async () => {
  const files = await makeSpecialFiles(`${dir}`, MODEL_MAX_BYTES, MODEL);
  let cases = 0;
  try {
    for (const input of files.inputs) {
      for (
        const args of [
          ["info", input.path],
          ["run", input.path, "--index", "0"],
          ["compile", input.path, "-o", `${dir}/out.ts`],
          ["graph", input.path, "-o", `${dir}/out.dot`],
          ["export", input.path, "--onnx", "-o", `${dir}/out.onnx`],
        ]
      ) {
        resetReadCounters();
        const r = await cli(args);
        oneLine(r, input.exit, `${args[0]} on ${input.name}`);
        // run reads the model before the MNIST images; the others read only the model.
        assert.ok(
          readCounters.bytesRead <= input.maxBytesRead,
          `${args[0]} on ${input.name} read ${readCounters.bytesRead} bytes`,
        );
        cases++;
      }
      // eval reads the MNIST images and labels first: only the exit and the line are checked.
      oneLine(await cli(["eval", input.path]), input.exit, `eval on ${input.name}`);
      cases++;
    }
    for (const output of files.outputs) {
      for (
        const args of [
          ["compile", files.model, "-o", output.path],
          ["export", files.model, "--onnx", "-o", output.path],
          ["eval", files.model, "--engine", "ts", "--predictions", output.path],
        ]
      ) {
        oneLine(await cli(args), output.exit, `${args[0]} -o ${output.name}`);
        cases++;
      }
    }
  } finally {
    files.close();
  }
  console.log(
    `${files.inputs.length} special inputs, ${files.outputs.length} outputs: ${cases} cases`,
  );
});

Deno.test("every aliased, overlapping or swapped tensor offset of every GGUF seed is a FormatError about an offset", async () => {
  const cases = aliasedOffsetCases(seedsOf("gguf"));
  assert.ok(cases.length > 100, `${cases.length} cases`);
  for (const c of cases) {
    assert.throws(
      () => readGguf(c.bytes, "aliased.gguf"),
      (e) => e instanceof FormatError && / offset: expected \d+ \(the padded sizes/.test(e.message),
      c.name,
    );
  }
  // And through the CLI, one case in 16 (each is a whole command run).
  for (let i = 0; i < cases.length; i += 16) {
    const file = `${dir}/aliased-${i}.gguf`;
    Deno.writeFileSync(file, cases[i]!.bytes);
    const r = await cli(["info", file]);
    oneLine(r, 3, cases[i]!.name);
    assert.match(r.err[0]!, /offset/);
  }
  console.log(`aliased-offsets: ${cases.length} cases`);
});

Deno.test("every GGUF seed string starting with a terminal control character is printed escaped", async () => {
  const cases = controlCharCases(seedsOf("gguf"));
  assert.ok(cases.length > 100, `${cases.length} cases`);
  let loaded = 0;
  for (const [i, c] of cases.entries()) {
    // The whole path: loads, or ends in a FormatError / GraphError.
    try {
      runTarget("gguf", c.bytes, false);
      loaded++;
    } catch (e) {
      if (!isExpectedError(e)) throw new Error(`${c.name}: ${e}`);
    }
    const file = `${dir}/control-${i}.gguf`;
    Deno.writeFileSync(file, c.bytes);
    for (const args of [["info", file], ["info", file, "--json"]]) {
      // A renamed general.alignment changes the layout: a FormatError is a fair outcome.
      const r = await cli(args);
      if (r.code !== 0) oneLine(r, 3, c.name);
      assert.doesNotMatch(r.out + r.err.join(""), RAW, c.name);
    }
    // Every 8th case also through run's load path, whose errors name tensors.
    if (i % 8 === 0) {
      const r = await cli(["run", file, "--index", "0", "--engine", "interpreter"]);
      if (r.code !== 0) oneLine(r, 3, c.name);
      assert.doesNotMatch(r.err.join(""), RAW, c.name);
    }
    Deno.removeSync(file);
  }
  console.log(`control-chars: ${cases.length} cases, ${loaded} load as models`);
});

Deno.test({
  name: "fuzz_files_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
