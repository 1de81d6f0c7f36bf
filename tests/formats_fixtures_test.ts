/**
 * Conformance with files made by other tools (../shared/fixtures, absent on users' machines:
 * the tests skip with a note then).
 */
import assert from "node:assert/strict";
import { metaString, readGguf, tensorToF32 } from "../compiler/formats/gguf_reader.ts";
import { writeGguf } from "../compiler/formats/gguf_writer.ts";
import { readLegacyGgml, writeLegacyGgml } from "../compiler/formats/legacy.ts";
import { GgmlType } from "../compiler/formats/ggml_types.ts";

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
