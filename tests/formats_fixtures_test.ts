/**
 * Conformance with files made by other tools (../shared/fixtures, absent on users' machines:
 * the tests skip with a note then).
 */
import assert from "node:assert/strict";
import { metaString, readGguf, tensorToF32 } from "../ggml/gguf_reader.ts";
import { writeGguf } from "../ggml/gguf_writer.ts";
import { readLegacyGgml, writeLegacyGgml } from "../ggml/legacy.ts";
import { GgmlType } from "../ggml/ggml_types.ts";

const fixture = (name: string) => new URL(`../../shared/fixtures/${name}`, import.meta.url);
function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}
const GGUF = fixture("ggml-mnist-fc-f32.gguf");
const LEGACY = fixture("ggml-model-f32.bin");
for (const f of [GGUF, LEGACY]) {
  if (!exists(f)) console.log(`note: ${f.pathname} is absent; its conformance test is skipped`);
}

Deno.test({
  name: "readGguf() parses ggml's own mnist-fc GGUF and writeGguf() reproduces it byte for byte",
  ignore: !exists(GGUF),
  fn() {
    const bytes = Deno.readFileSync(GGUF);
    const f = readGguf(bytes, "ggml-mnist-fc-f32.gguf");
    assert.equal(f.version, 3);
    assert.equal(metaString(f, "general.architecture"), "mnist-fc");
    assert.deepEqual(
      f.tensors.map((t) => [t.name, t.ne, t.type]),
      [
        ["fc1.weight", [784, 500], GgmlType.F32],
        ["fc1.bias", [500], GgmlType.F32],
        ["fc2.weight", [500, 10], GgmlType.F32],
        ["fc2.bias", [10], GgmlType.F32],
      ],
    );
    const w = tensorToF32(f.tensors[0]!);
    assert.equal(w.length, 784 * 500);
    assert.ok(w.every(Number.isFinite));
    const again = writeGguf({
      metadata: [...f.metadata],
      tensors: f.tensors.map(({ name, ne, type, data }) => ({ name, ne, type, data })),
    });
    const back = readGguf(again);
    assert.deepEqual(back.metadata, f.metadata);
    assert.deepEqual(back.tensors.map((t) => t.data), f.tensors.map((t) => t.data));
    assert.deepEqual(again, bytes); // byte-identical to ggml's writer
  },
});

Deno.test({
  name:
    "readLegacyGgml() parses the seed's ggml-model-f32.bin and writeLegacyGgml() rewrites it byte for byte",
  ignore: !exists(LEGACY),
  fn() {
    const bytes = Deno.readFileSync(LEGACY);
    const t = readLegacyGgml(bytes, "ggml-model-f32.bin");
    assert.deepEqual(t.map((x) => [x.name, x.ne]), [
      ["fc1.weight", [784, 500]],
      ["fc1.bias", [500]],
      ["fc2.weight", [500, 10]],
      ["fc2.bias", [10]],
    ]);
    assert.deepEqual(writeLegacyGgml(t), bytes);
  },
});

Deno.test("ggufc info lists metadata (arrays shortened) and tensors, and --json gives the same", async () => {
  const { infoCommand } = await import("../cli/info.ts");
  const { gguf } = await import("../ggml/gguf_writer.ts");
  const { quantize } = await import("../ggml/quant.ts");
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    const items = Array.from({ length: 40 }, (_, i) => gguf.uint32(i));
    await Deno.writeFile(
      path,
      writeGguf({
        metadata: [["general.architecture", gguf.string("demo")], [
          "big",
          gguf.array("uint32", items),
        ]],
        tensors: [{
          name: "w",
          ne: [32, 3],
          type: GgmlType.Q8_0,
          data: quantize(GgmlType.Q8_0, new Float32Array(96)),
        }],
        alignment: 64,
      }),
    );
    const out: string[] = [];
    const log = console.log;
    console.log = (s: string) => out.push(s);
    try {
      await infoCommand.run([path]);
      await infoCommand.run(["--json", path]);
    } finally {
      console.log = log;
    }
    const [text, json] = out as [string, string];
    assert.match(text, /GGUF v3, alignment 64/);
    assert.match(text, /general\.architecture\s+string\s+"demo"/);
    assert.match(text, /big\s+array<uint32>\s+\[0, 1, .*, 15, \.\.\. \(40 items\)\]/);
    assert.match(text, /w\s+q8_0\s+\[32, 3\]\s+0\s+102/);
    const info = JSON.parse(json);
    assert.equal(info.metadata.find((m: { key: string }) => m.key === "big").count, 40);
    assert.deepEqual(info.tensors, [{
      name: "w",
      type: "q8_0",
      ne: [32, 3],
      offset: 0,
      bytes: 102,
    }]);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("ggufc info reports a missing file and a non-model file as one-line errors", async () => {
  const { infoCommand } = await import("../cli/info.ts");
  const { FormatError, UsageError } = await import("../ggml/errors.ts");
  await assert.rejects(() => infoCommand.run(["/nonexistent/m.gguf"]), UsageError);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]));
    await assert.rejects(() => infoCommand.run([path]), (e) => {
      assert.ok(e instanceof FormatError);
      assert.match(e.message, /byte 0: magic: .* found 50 4b 03 04 \(a ZIP file/);
      return true;
    });
  } finally {
    await Deno.remove(path);
  }
});
