import assert from "node:assert/strict";
import { readLegacyGgml, writeLegacyGgml } from "../ggml/legacy.ts";
import { FormatError } from "../ggml/errors.ts";
import { Bytes } from "./helpers/gguf_builder.ts";

function rejects(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** A hand-built legacy file: magic, then n_dims, dims and float32 data per tensor. */
function legacyFile(tensors: { ne: number[]; data: number[] }[]): Bytes {
  const b = new Bytes().u32(0x67676d6c);
  for (const t of tensors) {
    b.u32(t.ne.length);
    t.ne.forEach((d) => b.u32(d));
    t.data.forEach((v) => b.f32(v));
  }
  return b;
}

const SMALL = [
  { ne: [3, 2], data: [1, 2, 3, 4, 5, 6] },
  { ne: [2], data: [0.5, -0.5] },
  { ne: [2, 1], data: [7, 8] },
  { ne: [1], data: [-1] },
];

Deno.test("readLegacyGgml() names the four tensors and keeps dims in ggml order", () => {
  const t = readLegacyGgml(legacyFile(SMALL).build());
  assert.deepEqual(t.map((x) => x.name), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
  assert.deepEqual(t.map((x) => x.ne), SMALL.map((x) => x.ne));
  assert.deepEqual(t.map((x) => [...x.data]), SMALL.map((x) => x.data));
});

Deno.test("writeLegacyGgml() writes the same bytes as the hand-built file", () => {
  const built = legacyFile(SMALL).build();
  const written = writeLegacyGgml(
    SMALL.map((t) => ({ ne: t.ne, data: Float32Array.from(t.data) })),
  );
  assert.deepEqual(written, built);
});

Deno.test("readLegacyGgml() rejects a bad magic, bad n_dims and dims, and truncation", () => {
  rejects(() => readLegacyGgml(new Bytes().raw(0x47, 0x47, 0x55, 0x46).build()), /byte 0: magic/);
  rejects(
    () => readLegacyGgml(new Bytes().u32(0x67676d6c).u32(5).build()),
    /byte 4: fc1\.weight n_dims: expected 1 to 4, found 5/,
  );
  rejects(
    () => readLegacyGgml(new Bytes().u32(0x67676d6c).u32(1).u32(0).build()),
    /byte 8: fc1\.weight ne\[0\]/,
    /found 0/,
  );
  rejects(
    () => readLegacyGgml(new Bytes().u32(0x67676d6c).u32(2).u32(784).u32(500).build()),
    /byte 4: fc1\.weight dims: expected dims whose float32 data fits in the 0 bytes left, found \[784, 500\] = 1568000 bytes/,
  );
  const full = legacyFile(SMALL).build();
  rejects(() => readLegacyGgml(full.subarray(0, full.length - 2)), /fc2\.bias/);
  rejects(
    () => readLegacyGgml(legacyFile(SMALL.slice(0, 3)).build()),
    /tensor count: expected 4 tensors/,
    /found 3/,
  );
  rejects(
    () => readLegacyGgml(legacyFile([...SMALL, SMALL[3]!]).build()),
    /tensor count/,
    /more data/,
  );
});
