import assert from "node:assert/strict";
import { crc32, readZip, zipEntryBytes } from "../convert/zip.ts";
import { FormatError } from "../ggml/errors.ts";
import { buildZip, concat } from "../testkit/torch_fixtures.ts";

const enc = new TextEncoder();

function rejects(fn: () => unknown, pattern: RegExp): FormatError {
  let caught: FormatError | undefined;
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
    assert.match(e.message, pattern);
    caught = e;
    return true;
  });
  return caught!;
}

Deno.test("crc32() matches the standard check value", () => {
  // The CRC-32 check value of "123456789" (IEEE 802.3).
  assert.equal(crc32(enc.encode("123456789")), 0xcbf43926);
});

Deno.test("readZip() lists stored and deflated entries and zipEntryBytes() returns their contents", () => {
  const text = enc.encode("hello ".repeat(100));
  const zip = readZip(buildZip([
    { name: "a/data.pkl", data: enc.encode("abc") },
    { name: "a/data/0", data: text, deflate: true },
    { name: "a/empty", data: new Uint8Array(0) },
  ]));
  assert.deepEqual(zip.entries.map((e) => [e.name, e.method, e.size]), [
    ["a/data.pkl", 0, 3],
    ["a/data/0", 8, 600],
    ["a/empty", 0, 0],
  ]);
  assert.ok(zip.entries[1]!.compressedSize < 600);
  assert.deepEqual(zipEntryBytes(zip, zip.entries[0]!), enc.encode("abc"));
  assert.deepEqual(zipEntryBytes(zip, zip.byName.get("a/data/0")!), text);
  assert.equal(zipEntryBytes(zip, zip.entries[2]!).length, 0);
});

Deno.test("readZip() accepts a trailing archive comment", () => {
  const z = buildZip([{ name: "x", data: enc.encode("1") }]);
  const v = new DataView(z.buffer);
  v.setUint16(z.length - 2, 5, true);
  const zip = readZip(concat([z, enc.encode("hello")]));
  assert.equal(zip.entries.length, 1);
});

Deno.test("readZip() rejects a file that is not a ZIP archive", () => {
  rejects(() => readZip(new Uint8Array(10), "f"), /expected at least 22 bytes/);
  rejects(() => readZip(new Uint8Array(100), "f"), /not a ZIP archive, or truncated/);
});

Deno.test("readZip() rejects an entry whose data runs past the end of the archive", () => {
  const z = buildZip([{ name: "x/data/0", data: new Uint8Array(16) }]);
  // Central directory entry starts after the local header (30 + 8) and data (16).
  const cd = 30 + 8 + 16;
  const v = new DataView(z.buffer);
  v.setUint32(cd + 20, 1000, true); // compressed size
  v.setUint32(cd + 24, 1000, true); // size
  const e = rejects(() => readZip(z, "f.zip"), /entry 'x\/data\/0': data: expected 1000 bytes/);
  assert.equal(e.offset, 38);
});

Deno.test("readZip() rejects a local header offset past the end", () => {
  const z = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  const cd = 30 + 1 + 4;
  new DataView(z.buffer).setUint32(cd + 42, 0x00ffffff, true);
  rejects(() => readZip(z), /local header offset: .*past the end/);
});

Deno.test("readZip() rejects a central directory outside the file", () => {
  const z = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  new DataView(z.buffer).setUint32(z.length - 22 + 16, 5000, true);
  rejects(() => readZip(z), /central directory size\/offset/);
});

Deno.test("readZip() rejects ZIP64 sentinels cleanly", () => {
  const z = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  new DataView(z.buffer).setUint32(z.length - 22 + 16, 0xffffffff, true);
  rejects(() => readZip(z), /ZIP64 archives are not supported/);
  const z2 = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  new DataView(z2.buffer).setUint32(35 + 20, 0xffffffff, true);
  rejects(() => readZip(z2), /ZIP64 sizes/);
});

Deno.test("readZip() rejects encrypted entries and unknown compression methods", () => {
  const z = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  new DataView(z.buffer).setUint16(35 + 8, 1, true);
  rejects(() => readZip(z), /no encryption/);
  const z2 = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  new DataView(z2.buffer).setUint16(35 + 10, 12, true);
  rejects(() => readZip(z2), /method: expected 0 \(stored\) or 8 \(deflate\), found 12/);
});

Deno.test("readZip() rejects a local header whose name differs from the directory", () => {
  const z = buildZip([{ name: "x", data: new Uint8Array(4) }]);
  z[30] = "y".charCodeAt(0);
  rejects(() => readZip(z), /local name: expected 'x', found 'y'/);
});

Deno.test("zipEntryBytes() rejects a CRC mismatch and corrupt deflate data", () => {
  const z = buildZip([{ name: "x", data: enc.encode("abcd") }]);
  z[31] = 0; // first data byte
  const zip = readZip(z);
  rejects(() => zipEntryBytes(zip, zip.entries[0]!), /crc32/);
  const d = buildZip([{ name: "y", data: enc.encode("hello ".repeat(50)), deflate: true }]);
  d[31] = 0xff; // corrupt the deflate block header
  d[32] = 0xff;
  const dz = readZip(d);
  rejects(() => zipEntryBytes(dz, dz.entries[0]!), /entry 'y': (deflate data|inflated size|crc32)/);
});
