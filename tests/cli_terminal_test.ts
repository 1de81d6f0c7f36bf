/**
 * Strings from a model file never reach the terminal raw: keys, tensor names, string values
 * and general.name holding NUL, ESC sequences, CR/LF, U+2028 or bidi overrides are printed
 * escaped by `info` (text and --json), `graph`, `compile` and in error lines; `--json` still
 * decodes to the same strings.
 */
import assert from "node:assert/strict";
import { main } from "../main.ts";
import { printable, printableJson } from "../ggml/errors.ts";
import { readGguf } from "../ggml/gguf_reader.ts";
import { writeGguf } from "../ggml/gguf_writer.ts";
import { GgmlType } from "../ggml/ggml_types.ts";

const dir = Deno.makeTempDirSync({ prefix: "ggufc-cli-terminal-" });
const MODEL = new URL("../models/mnist-fc.gguf", import.meta.url).pathname;

/** Every character a terminal acts on, one of each kind. */
const HOSTILE = "a\x00b\x1b[31mRED\x1b[0m\r\nggufc: fake line\u2028c\u202eevil\u2066d\x7f\x9be";
/** What may appear on stdout besides printable text: only the line breaks between lines. */
// deno-lint-ignore no-control-regex
const RAW = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const { error, log, warn, info } = console;
  console.error = console.warn = (...a: unknown[]) => err.push(a.join(" "));
  console.log = console.info = (...a: unknown[]) => out.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, { error, log, warn, info });
  }
}

/** mnist-fc with a hostile general.name, plus a hostile key and string value. */
const hostileModel = (() => {
  const f = readGguf(Deno.readFileSync(MODEL), "mnist-fc.gguf");
  const p = `${dir}/hostile-name.gguf`;
  Deno.writeFileSync(
    p,
    writeGguf({
      metadata: [
        ...[...f.metadata].filter(([k]) => k !== "general.name" && k !== "general.alignment"),
        ["general.name", { type: "string", value: HOSTILE }],
        [`key.${HOSTILE}`, { type: "string", value: HOSTILE }],
        ["list", {
          type: "array",
          itemType: "string",
          value: [{ type: "string", value: HOSTILE }],
        }],
      ],
      tensors: f.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, data: t.data })),
    }),
  );
  return p;
})();

/** A GGUF whose only tensor has a hostile (but at most 63-byte) name. */
const hostileTensor = (() => {
  const p = `${dir}/hostile-tensor.gguf`;
  Deno.writeFileSync(
    p,
    writeGguf({
      metadata: [],
      tensors: [{
        name: HOSTILE.slice(0, 40),
        ne: [4],
        type: GgmlType.F32,
        data: new Uint8Array(16),
      }],
    }),
  );
  return p;
})();

Deno.test("printable() escapes every control, separator and bidi character, and nothing else", () => {
  assert.equal(
    printable(HOSTILE),
    "a\\x00b\\x1b[31mRED\\x1b[0m\\x0d\\x0aggufc: fake line\\u2028c\\u202eevil\\u2066d\\x7f\\x9be",
  );
  assert.equal(printable("plain é 日本 ✓"), "plain é 日本 ✓");
  assert.deepEqual(JSON.parse(printableJson(JSON.stringify({ s: HOSTILE }))), { s: HOSTILE });
  assert.doesNotMatch(printableJson(JSON.stringify(HOSTILE)), RAW);
});

Deno.test("info prints hostile keys, tensor names and string values escaped, one line each", async () => {
  for (const file of [hostileModel, hostileTensor]) {
    const r = await cli(["info", file]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, RAW);
    assert.doesNotMatch(r.out, /^ggufc: fake line/m, "no forged line");
  }
  const text = (await cli(["info", hostileModel])).out;
  assert.ok(text.includes(`key.${printable(HOSTILE)}`), "the key, escaped");
  const tensor = (await cli(["info", hostileTensor])).out;
  assert.ok(tensor.includes(printable(HOSTILE.slice(0, 40))), "the tensor name, escaped");
});

Deno.test("info --json escapes what JSON.stringify leaves raw and decodes to the same strings", async () => {
  const r = await cli(["info", hostileModel, "--json"]);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, RAW);
  const info = JSON.parse(r.out);
  const name = info.metadata.find((m: { key: string }) => m.key === "general.name");
  assert.equal(name.value, HOSTILE);
});

Deno.test("graph's and compile's success lines print general.name escaped", async () => {
  const g = await cli(["graph", hostileModel, "--stage", "source", "-o", `${dir}/g.dot`]);
  assert.equal(g.code, 0, g.err);
  assert.equal(g.out.split("\n").length, 1, g.out);
  assert.ok(g.out.includes(printable(HOSTILE)), g.out);
  const c = await cli(["compile", hostileModel, "-o", `${dir}/m.ts`, "--plan", "--print-graph"]);
  assert.equal(c.code, 0, c.err);
  assert.doesNotMatch(c.out, RAW);
  assert.doesNotMatch(c.out, /^ggufc: fake line/m);
});

Deno.test("an error about a hostile path or name is one escaped line", async () => {
  const path = `${dir}/${HOSTILE.replaceAll("\0", "").replaceAll("/", "")}.gguf`;
  const r = await cli(["info", path]);
  assert.equal(r.code, 2);
  assert.equal(r.err.split("\n").length, 1, r.err);
  assert.doesNotMatch(r.err, RAW);
});

Deno.test({
  name: "cli_terminal_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
