import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { decodeTestSet, encodeTestSet, inflateTestSet } from "../web/src/testset_format.ts";
import { loadMnistTestSet, packTestSet } from "../web/testset.ts";

Deno.test("encodeTestSet() and inflateTestSet() round-trip labels and pixels exactly", async () => {
  const pixels = new Uint8Array(3 * 4 * 2).map((_, i) => (i * 37) & 255);
  const set = { count: 3, rows: 4, cols: 2, labels: new Uint8Array([7, 2, 1]), pixels };
  const back = await inflateTestSet(new Uint8Array(gzipSync(encodeTestSet(set))));
  assert.equal(back.count, 3);
  assert.equal(back.rows, 4);
  assert.equal(back.cols, 2);
  assert.deepEqual([...back.labels], [7, 2, 1]);
  assert.deepEqual([...back.pixels], [...pixels]);
});

Deno.test("decodeTestSet() rejects a wrong magic and a truncated file", () => {
  const good = encodeTestSet({
    count: 1,
    rows: 2,
    cols: 2,
    labels: new Uint8Array([5]),
    pixels: new Uint8Array(4),
  });
  const bad = good.slice();
  bad[0] = 0x58;
  assert.throws(() => decodeTestSet(bad), /magic is 'XNTS'/);
  assert.throws(() => decodeTestSet(good.subarray(0, good.length - 1)), /needs 17 bytes, found 16/);
  assert.throws(() => decodeTestSet(good.subarray(0, 5)), /too short/);
});

Deno.test("packTestSet() ships all 10,000 MNIST test images in under 2 MB, unchanged", async () => {
  const set = loadMnistTestSet();
  const gz = packTestSet(set);
  // The raw IDX images are 7.84 MB; gzip of MNIST digits is about 1.6 MB.
  assert.ok(gz.length < 2_000_000, `${gz.length} bytes`);
  const back = await inflateTestSet(gz);
  assert.equal(back.count, 10_000);
  assert.deepEqual([...back.labels.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  assert.ok(back.pixels.every((v, i) => v === set.pixels[i]));
});
