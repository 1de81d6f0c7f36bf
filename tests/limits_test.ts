/**
 * One test per reader limit, each with a crafted file: the reader must throw a FormatError
 * naming the field and the byte offset where the bad value is, before allocating or looping
 * from it: counted, not timed, so the bounds hold on any machine: at most 64 field reads
 * (ByteReader's counter) and at most 64 KiB allocated (alloc_counter.ts).
 */
import assert from "node:assert/strict";
import {
  GGUF_MAX_KV,
  GGUF_MAX_METADATA_VALUES,
  GGUF_MAX_TENSORS,
  readGguf,
} from "../ggml/gguf_reader.ts";
import { readLegacyGgml } from "../ggml/legacy.ts";
import { readStateDict } from "../convert/pytorch.ts";
import { ZIP_MAX_INFLATED } from "../convert/zip.ts";
import { readIdxImages, readIdxLabels } from "../data/idx.ts";
import { FormatError } from "../ggml/errors.ts";
import { Bytes, ggufHeader, tensorInfo } from "./helpers/gguf_builder.ts";
import { buildZip } from "../testkit/torch_fixtures.ts";
import { byteReaderCounters } from "../ggml/byte_reader.ts";
import { allocatedBytesOf, countAllocations } from "../tools/fuzz/alloc_counter.ts";

/**
 * Field reads allowed while rejecting: the crafted headers hold a few dozen fields at most;
 * looping over a hostile count of 2^20 or more would read millions.
 */
const FEW_READS = 64;
/** Bytes a rejection may allocate; one sized from a hostile count asks for megabytes. */
const SMALL_ALLOC = 64 * 2 ** 10;

/**
 * Asserts that `read(bytes)` throws a FormatError about `field` at byte `offset`, quickly and
 * without a big allocation.
 */
function rejects(
  read: (b: Uint8Array, file: string) => unknown,
  bytes: Uint8Array,
  field: string | RegExp,
  offset: number,
  expected?: RegExp,
): FormatError {
  const reads0 = byteReaderCounters.reads;
  let err: unknown;
  let allocated = 0;
  try {
    countAllocations(() => read(bytes, "crafted.bin"));
  } catch (e) {
    err = e;
    allocated = allocatedBytesOf(e);
  }
  // The IDX and ZIP readers use DataView directly: for them the allocation bound does the work.
  const reads = byteReaderCounters.reads - reads0;
  assert.ok(err instanceof FormatError, `expected a FormatError, got ${err}`);
  if (typeof field === "string") assert.equal(err.field, field);
  else assert.match(err.field, field);
  assert.equal(err.offset, offset, err.message);
  assert.ok(err.message.startsWith(`crafted.bin: byte ${offset}: `), err.message);
  if (expected) assert.match(err.message, expected);
  assert.ok(reads <= FEW_READS, `${reads} field reads`);
  assert.ok(allocated <= SMALL_ALLOC, `allocated ${allocated} bytes`);
  return err;
}

/** `header` followed by `n` zero bytes (for counts that must fit the bytes left). */
function padded(header: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(header.length + n);
  out.set(header);
  return out;
}

// --- GGUF ---------------------------------------------------------------------------------

Deno.test("readGguf() rejects a tensor count of 2^63 at byte 8", () => {
  rejects(readGguf, ggufHeader(3, 0, 0).build().fill(0xff, 8, 16).subarray(0), "tensor_count", 8);
  const b = ggufHeader(3, 0, 0).build();
  new DataView(b.buffer).setBigUint64(8, 2n ** 63n, true);
  rejects(readGguf, b, "tensor_count", 8, /found 9223372036854775808/);
});

Deno.test("readGguf() rejects more than 65536 tensors even when the file could hold them", () => {
  const b = padded(ggufHeader(3, GGUF_MAX_TENSORS + 1, 0).build(), 33 * (GGUF_MAX_TENSORS + 1));
  rejects(readGguf, b, "tensor_count", 8, /at most 65536, found 65537/);
});

Deno.test("readGguf() rejects a kv count of 2^64-1 at byte 16 (v3) and 2^32-1 at byte 12 (v1)", () => {
  rejects(readGguf, ggufHeader(3, 0, -1).build(), "metadata_kv_count", 16);
  rejects(readGguf, ggufHeader(1, 0, 0xffffffff).build(), "metadata_kv_count", 12);
});

Deno.test("readGguf() rejects more than 65536 metadata keys even when the file could hold them", () => {
  const b = padded(ggufHeader(3, 0, GGUF_MAX_KV + 1).build(), 14 * (GGUF_MAX_KV + 1));
  rejects(readGguf, b, "metadata_kv_count", 16, /at most 65536/);
});

Deno.test("readGguf() rejects a string length of 2^64-1 at the length field", () => {
  const b = ggufHeader(3, 0, 1).u64(-1);
  rejects(readGguf, padded(b.build(), 64), "metadata key 0 length", 24, /18446744073709551615/);
});

Deno.test("readGguf() rejects an array length of 2^62 at the count field", () => {
  const b = ggufHeader(3, 0, 1).str("k").u32(9).u32(0);
  const at = b.at();
  rejects(readGguf, b.u64(2n ** 62n).raw(1, 2, 3).build(), "'k' count", at);
});

Deno.test("readGguf() rejects more than 2^20 metadata array items in all before building them", () => {
  const b = ggufHeader(3, 0, 1).str("k").u32(9).u32(0);
  const at = b.at();
  const n = GGUF_MAX_METADATA_VALUES; // with the key itself: one value too many
  const bytes = padded(b.u64(n).build(), n);
  rejects(readGguf, bytes, "'k' count", at, /at most 1048576 metadata values/);
});

Deno.test("readGguf() rejects arrays nested 9 deep at the ninth array", () => {
  const b = ggufHeader(3, 0, 1).str("deep").u32(9);
  let at = 0;
  for (let d = 0; d < 9; d++) {
    at = b.at();
    b.u32(9).u64(1); // item type array, one item
  }
  b.u32(0).u64(0);
  rejects(readGguf, b.build(), "'deep'[0][0][0][0][0][0][0][0]", at, /nested at most 8 deep/);
});

Deno.test("readGguf() rejects dims whose product passes 2^53 at the overflowing dim", () => {
  const b = ggufHeader(3, 1, 0).str("w").u32(2).u64(2n ** 32n);
  const at = b.at();
  b.u64(2n ** 32n).u32(0).u64(0);
  rejects(readGguf, b.build(), "tensor 'w' ne[1]", at, /at most 2\^53/);
});

Deno.test("readGguf() rejects a tensor larger than the whole file at its n_dims", () => {
  const b = ggufHeader(3, 1, 0).str("w");
  const at = b.at();
  const bytes = b.u32(1).u64(1_000_000).u32(0).u64(0).pad(32).build();
  rejects(readGguf, bytes, "tensor 'w' dims", at, /no larger than the file/);
});

Deno.test("readGguf() rejects tensor data that runs past the end of the file", () => {
  const b = ggufHeader(3, 1, 0);
  const at = b.at();
  tensorInfo(b, "w", [16], 0, 0).pad(32).raw(...new Array(32).fill(0)); // 32 of 64 bytes
  rejects(readGguf, b.build(), "tensor 'w' data", at, /past the end of the file/);
});

Deno.test("readGguf() rejects an offset that is not a multiple of the alignment", () => {
  const b = ggufHeader(3, 1, 0).str("w").u32(1).u64(1).u32(0);
  const at = b.at();
  const bytes = b.u64(4).pad(32).raw(...new Array(64).fill(0)).build();
  rejects(readGguf, bytes, "tensor 'w' offset", at, /multiple of the alignment 32, found 4/);
});

Deno.test("readGguf() rejects general.alignment 0, 3 and a non-uint32 at its value", () => {
  for (const v of [0, 3]) {
    const b = ggufHeader(3, 0, 1).str("general.alignment").u32(4);
    const at = b.at();
    rejects(readGguf, b.u32(v).build(), "general.alignment", at, /power of two/);
  }
  const b = ggufHeader(3, 0, 1).str("general.alignment").u32(10);
  const at = b.at();
  rejects(readGguf, b.u64(32).build(), "general.alignment", at, /a uint32/);
});

Deno.test("readGguf() rejects an unknown tensor type and names known unsupported ones", () => {
  for (const [id, name] of [[77, /unknown \(77\)/], [12, /q4_K \(12\)/]] as const) {
    const b = ggufHeader(3, 1, 0).str("w").u32(1).u64(32);
    const at = b.at();
    rejects(readGguf, b.u32(id).u64(0).build(), "tensor 'w' type", at, name);
  }
});

Deno.test("readGguf() rejects an unknown metadata value type", () => {
  const b = ggufHeader(3, 0, 1).str("k");
  const at = b.at();
  rejects(readGguf, b.u32(13).u32(0).build(), "type of 'k'", at, /value type 0\.\.12, found 13/);
});

Deno.test("readGguf() rejects a big-endian file at the version", () => {
  const b = new Bytes().raw(0x47, 0x47, 0x55, 0x46).u32be(3).u64(0).u64(0);
  rejects(readGguf, b.build(), "version", 4, /big-endian/);
});

Deno.test("readGguf() rejects versions 0 and 4", () => {
  for (const v of [0, 4]) rejects(readGguf, ggufHeader(v, 0, 0).build(), "version", 4, /1, 2 or 3/);
});

Deno.test("readGguf() rejects n_dims 0 and 5", () => {
  for (const n of [0, 5]) {
    const b = ggufHeader(3, 1, 0).str("w");
    const at = b.at();
    const bytes = padded(b.u32(n).u64(1).build(), 64);
    rejects(readGguf, bytes, "tensor 'w' n_dims", at, /1 to 4/);
  }
});

Deno.test("readGguf() rejects a key that is not valid UTF-8", () => {
  const b = ggufHeader(3, 0, 1).u64(2);
  const at = b.at();
  rejects(readGguf, b.raw(0xc3, 0x28).u32(0).u8(0).build(), "metadata key 0", at, /valid UTF-8/);
});

// --- legacy ggml -----------------------------------------------------------------------------

const legacyHead = () => new Bytes().u32(0x67676d6c);

Deno.test("readLegacyGgml() rejects n_dims 0 and 5", () => {
  for (const n of [0, 5]) {
    rejects(readLegacyGgml, legacyHead().u32(n).u32(1).build(), "fc1.weight n_dims", 4, /1 to 4/);
  }
});

Deno.test("readLegacyGgml() rejects a dim of 2^31-1 before allocating its data", () => {
  const b = legacyHead().u32(2).u32(784).u32(0x7fffffff);
  rejects(readLegacyGgml, padded(b.build(), 64), "fc1.weight dims", 4, /fits in the 64 bytes/);
});

Deno.test("readLegacyGgml() rejects four dims of 2^31-1 (product 2^124) at n_dims", () => {
  const b = legacyHead().u32(4);
  for (let j = 0; j < 4; j++) b.u32(0x7fffffff);
  rejects(readLegacyGgml, padded(b.build(), 64), "fc1.weight dims", 4, /fits in the 64 bytes/);
});

Deno.test("readLegacyGgml() rejects a negative dim", () => {
  rejects(readLegacyGgml, legacyHead().u32(1).u32(-1).build(), "fc1.weight ne[0]", 8, /at least 1/);
});

// --- IDX -------------------------------------------------------------------------------------

Deno.test("readIdxImages() rejects an image count larger than the file", () => {
  const b = new Bytes().u32be(0x803).u32be(0xffffffff).u32be(28).u32be(28);
  rejects(readIdxImages, b.build(), "image count", 4, /4294967295 \* 28 \* 28/);
});

Deno.test("readIdxImages() rejects zero rows", () => {
  rejects(readIdxImages, new Bytes().u32be(0x803).u32be(1).u32be(0).u32be(28).build(), "rows", 8);
});

Deno.test("readIdxLabels() rejects a label count larger than the file", () => {
  rejects(readIdxLabels, new Bytes().u32be(0x801).u32be(60000).raw(1, 2).build(), "label count", 4);
});

// --- PyTorch state dict (ZIP) ----------------------------------------------------------------

Deno.test("readStateDict() rejects a deflated entry declaring more than 64 MiB before inflating", () => {
  const zip = buildZip([{ name: "m/data.pkl", data: new Uint8Array(10), deflate: true }]);
  // Patch the central directory's size field (entry 0 starts after the local record).
  const dv = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const cd = dv.getUint32(zip.length - 6, true);
  dv.setUint32(cd + 24, ZIP_MAX_INFLATED + 1, true);
  rejects(readStateDict, zip, "entry 'm/data.pkl': size", cd + 24, /at most 67108864/);
});
