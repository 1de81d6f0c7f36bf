import assert from "node:assert/strict";
import { metaNumber, metaString, readGguf, tensorToF32 } from "../ggml/gguf_reader.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { FormatError } from "../ggml/errors.ts";
import { Bytes, ggufHeader, simpleGguf, tensorInfo } from "./helpers/gguf_builder.ts";

/** Asserts that `fn` throws a FormatError whose message matches every pattern. */
function rejects(fn: () => unknown, ...patterns: RegExp[]): FormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof FormatError, `expected a FormatError, got ${err}`);
  for (const p of patterns) assert.match(err.message, p);
  return err;
}

/** A v3 file with one key/value pair whose value bytes are written by `value`. */
function oneKv(key: string, typeId: number, value: (b: Bytes) => void): Uint8Array {
  const b = ggufHeader(3, 0, 1).str(key).u32(typeId);
  value(b);
  return b.build();
}

Deno.test("readGguf() reads every metadata value type of a v3 file", () => {
  const b = ggufHeader(3, 0, 14)
    .str("a.u8").u32(0).u8(200)
    .str("a.i8").u32(1).u8(0xfe)
    .str("a.u16").u32(2).u16(60000)
    .str("a.i16").u32(3).u16(0x8000)
    .str("a.u32").u32(4).u32(4000000000)
    .str("a.i32").u32(5).u32(-5)
    .str("a.f32").u32(6).f32(0.25)
    .str("a.bool").u32(7).u8(1)
    .str("a.str").u32(8).str("héllo")
    .str("a.u64").u32(10).u64(2n ** 63n + 5n)
    .str("a.i64").u32(11).u64(-7n)
    .str("a.f64").u32(12).f64(Math.PI)
    .str("a.arr").u32(9).u32(8).u64(2).str("x").str("yz")
    .str("a.nested").u32(9).u32(9).u64(2)
    .u32(4).u64(1).u32(7)
    .u32(0).u64(0);
  const f = readGguf(b.build(), "kv.gguf");
  const m = Object.fromEntries(f.metadata);
  assert.deepEqual(m["a.u8"], { type: "uint8", value: 200 });
  assert.deepEqual(m["a.i8"], { type: "int8", value: -2 });
  assert.deepEqual(m["a.u16"], { type: "uint16", value: 60000 });
  assert.deepEqual(m["a.i16"], { type: "int16", value: -32768 });
  assert.deepEqual(m["a.u32"], { type: "uint32", value: 4000000000 });
  assert.deepEqual(m["a.i32"], { type: "int32", value: -5 });
  assert.deepEqual(m["a.f32"], { type: "float32", value: 0.25 });
  assert.deepEqual(m["a.bool"], { type: "bool", value: true });
  assert.deepEqual(m["a.str"], { type: "string", value: "héllo" });
  assert.deepEqual(m["a.u64"], { type: "uint64", value: 2n ** 63n + 5n });
  assert.deepEqual(m["a.i64"], { type: "int64", value: -7n });
  assert.deepEqual(m["a.f64"], { type: "float64", value: Math.PI });
  assert.deepEqual(m["a.arr"], {
    type: "array",
    itemType: "string",
    value: [{ type: "string", value: "x" }, { type: "string", value: "yz" }],
  });
  assert.deepEqual(m["a.nested"], {
    type: "array",
    itemType: "array",
    value: [
      { type: "array", itemType: "uint32", value: [{ type: "uint32", value: 7 }] },
      { type: "array", itemType: "uint8", value: [] },
    ],
  });
  assert.equal(metaString(f, "a.str"), "héllo");
  assert.equal(metaString(f, "missing"), undefined);
  assert.equal(metaNumber(f, "a.i64"), -7);
  rejects(() => metaString(f, "a.u8"), /a\.u8: expected a string, found a uint8/);
});

Deno.test("readGguf() reads a v1 file (u32 counts, lengths and dims)", () => {
  const b = new Bytes().raw(0x47, 0x47, 0x55, 0x46).u32(1).u32(1).u32(2)
    .str("general.architecture", true).u32(8).str("old", true)
    .str("list", true).u32(9).u32(5).u32(2).u32(3).u32(4)
    .str("w", true).u32(2).u32(2).u32(1).u32(0).u64(0)
    .pad(32).f32(1.5).f32(-2);
  const f = readGguf(b.build());
  assert.equal(f.version, 1);
  assert.equal(metaString(f, "general.architecture"), "old");
  assert.deepEqual(f.metadata.get("list"), {
    type: "array",
    itemType: "int32",
    value: [{ type: "int32", value: 3 }, { type: "int32", value: 4 }],
  });
  assert.deepEqual(f.tensors[0]!.ne, [2, 1]);
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], [1.5, -2]);
});

Deno.test("readGguf() reads a v2 file like v3", () => {
  const b = ggufHeader(2, 1, 0);
  tensorInfo(b, "w", [1], GgmlType.F32, 0).pad(32).f32(7);
  const f = readGguf(b.build());
  assert.equal(f.version, 2);
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], [7]);
});

Deno.test("readGguf() honours general.alignment 64 and 8", () => {
  for (const alignment of [64, 8]) {
    const bytes = simpleGguf([
      {
        name: "a",
        ne: [3],
        type: GgmlType.F32,
        data: [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40],
      },
      { name: "b", ne: [1], type: GgmlType.F32, data: [0, 0, 0x80, 0x40] },
    ], alignment);
    const f = readGguf(bytes);
    assert.equal(f.alignment, alignment);
    assert.equal(f.dataOffset % alignment, 0);
    // header 24 + kv (8+17+4+4 = 33) + infos (8+1+4+8+4+8 = 33 each) = 123
    assert.equal(f.dataOffset, Math.ceil(123 / alignment) * alignment);
    assert.equal(f.tensors[1]!.offset, alignment === 64 ? 64 : 16);
    assert.deepEqual([...tensorToF32(f.tensors[0]!)], [1, 2, 3]);
    assert.deepEqual([...tensorToF32(f.tensors[1]!)], [4]);
  }
});

Deno.test("readGguf() returns tensor data as views and F32 values without a copy", () => {
  const bytes = simpleGguf([{
    name: "w",
    ne: [2],
    type: GgmlType.F32,
    data: [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0],
  }]);
  const f = readGguf(bytes);
  const t = f.tensors[0]!;
  assert.equal(t.data.buffer, bytes.buffer);
  assert.equal(t.fileOffset, f.dataOffset);
  const v = tensorToF32(t);
  assert.equal(v.buffer, bytes.buffer);
  assert.deepEqual([...v], [1, -2]);
});

// Expected values below are worked out by hand from the block layouts in ggml-common.h.
Deno.test("tensorToF32() decodes F16 and BF16 bit patterns", () => {
  // f16: 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24 (smallest subnormal), 0x7bff = 65504 (max)
  // bf16: 0x3f80 = 1, 0xc040 = -3, 0x4049 = 3.140625
  const f = readGguf(simpleGguf([
    {
      name: "h",
      ne: [4],
      type: GgmlType.F16,
      data: [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b],
    },
    { name: "b", ne: [3], type: GgmlType.BF16, data: [0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40] },
  ]));
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], [1, -2, 2 ** -24, 65504]);
  assert.deepEqual([...tensorToF32(f.tensors[1]!)], [1, -3, 3.140625]);
});

Deno.test("tensorToF32() decodes Q8_0: d * qs", () => {
  // d = 0.5 (f16 0x3800), qs = 1..31 then -128
  const qs = Array.from({ length: 32 }, (_, j) => (j < 31 ? j + 1 : 0x80));
  const f = readGguf(
    simpleGguf([{ name: "q", ne: [32], type: GgmlType.Q8_0, data: [0x00, 0x38, ...qs] }]),
  );
  const want = Array.from({ length: 32 }, (_, j) => (j < 31 ? 0.5 * (j + 1) : -64));
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], want);
});

Deno.test("tensorToF32() decodes Q4_0: low nibbles are elements 0..15, high nibbles 16..31", () => {
  // d = 2 (0x4000); byte j = j | (15 - j) << 4
  const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
  const f = readGguf(
    simpleGguf([{ name: "q", ne: [32], type: GgmlType.Q4_0, data: [0x00, 0x40, ...qs] }]),
  );
  const want = [
    ...Array.from({ length: 16 }, (_, j) => (j - 8) * 2),
    ...Array.from({ length: 16 }, (_, j) => (15 - j - 8) * 2),
  ];
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], want);
});

Deno.test("tensorToF32() decodes Q4_1: d * q + m", () => {
  // d = 0.5 (0x3800), m = -1 (0xbc00); byte j = j | (15 - j) << 4
  const qs = Array.from({ length: 16 }, (_, j) => j | ((15 - j) << 4));
  const f = readGguf(simpleGguf([
    { name: "q", ne: [32], type: GgmlType.Q4_1, data: [0x00, 0x38, 0x00, 0xbc, ...qs] },
  ]));
  const want = [
    ...Array.from({ length: 16 }, (_, j) => j * 0.5 - 1),
    ...Array.from({ length: 16 }, (_, j) => (15 - j) * 0.5 - 1),
  ];
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], want);
});

Deno.test("tensorToF32() decodes Q5_0: qh bit j is the 5th bit of element j", () => {
  // d = 1 (0x3c00); qh bits 0, 16, 17 set (little-endian u32 0x00030001);
  // qs[0] = 0x00, qs[1] = 0xf5, the rest 0x88. Element = (nibble | bit<<4) - 16.
  const qs = Array.from({ length: 16 }, (_, j) => (j === 0 ? 0x00 : j === 1 ? 0xf5 : 0x88));
  const f = readGguf(simpleGguf([
    { name: "q", ne: [32], type: GgmlType.Q5_0, data: [0x00, 0x3c, 0x01, 0x00, 0x03, 0x00, ...qs] },
  ]));
  const want = new Array(32).fill(-8);
  want[0] = 0; // (0 | 16) - 16
  want[1] = -11; // 5 - 16
  want[16] = 0; // (0 | 16) - 16
  want[17] = 15; // (15 | 16) - 16
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], want);
});

Deno.test("tensorToF32() decodes Q5_1: d * q + m with the 5th bit from qh", () => {
  // d = 0.25 (0x3400), m = 10 (0x4900), qh bit 31 set; qs[15] = 0xf0, the rest 0x21
  const qs = Array.from({ length: 16 }, (_, j) => (j === 15 ? 0xf0 : 0x21));
  const f = readGguf(simpleGguf([
    {
      name: "q",
      ne: [32],
      type: GgmlType.Q5_1,
      data: [0x00, 0x34, 0x00, 0x49, 0, 0, 0, 0x80, ...qs],
    },
  ]));
  const want = [...new Array(16).fill(10.25), ...new Array(16).fill(10.5)];
  want[15] = 10; // 0 * 0.25 + 10
  want[31] = 17.75; // (15 | 16) * 0.25 + 10
  assert.deepEqual([...tensorToF32(f.tensors[0]!)], want);
});

Deno.test("readGguf() rejects a bad magic", () => {
  rejects(
    () => readGguf(new Uint8Array([0x47, 0x47, 0x4d, 0x4c, 3, 0, 0, 0])),
    /byte 0: magic/,
    /47 47 4d 4c/,
  );
});

Deno.test("readGguf() rejects a big-endian file", () => {
  const b = new Bytes().raw(0x47, 0x47, 0x55, 0x46).u32be(3).raw(...new Array(16).fill(0));
  rejects(() => readGguf(b.build()), /byte 4: version/, /big-endian GGUF is not supported/);
});

Deno.test("readGguf() rejects an unknown version", () => {
  rejects(
    () => readGguf(ggufHeader(4, 0, 0).build()),
    /byte 4: version: expected 1, 2 or 3, found 4/,
  );
});

Deno.test("readGguf() rejects a truncated header", () => {
  rejects(
    () => readGguf(ggufHeader(3, 0, 0).build().subarray(0, 12)),
    /byte 8: tensor_count/,
    /truncated/,
  );
  rejects(() => readGguf(new Uint8Array([0x47, 0x47])), /byte 0: magic/, /truncated/);
});

Deno.test("readGguf() rejects tensor and kv counts the file cannot hold before allocating", () => {
  rejects(
    () => readGguf(ggufHeader(3, 2 ** 40, 0).build()),
    /byte 8: tensor_count/,
    /1099511627776/,
  );
  rejects(() => readGguf(ggufHeader(3, 0, 2 ** 53).build()), /byte 16: metadata_kv_count/);
  rejects(() => readGguf(ggufHeader(1, 0, 0xffffffff).build()), /byte 12: metadata_kv_count/);
});

Deno.test("readGguf() rejects a string longer than the bytes left", () => {
  const b = ggufHeader(3, 0, 1).u64(1000).raw(...new Array(20).fill(0x61));
  rejects(() => readGguf(b.build()), /byte 24: metadata key 0 length/, /found 1000/);
});

Deno.test("readGguf() rejects invalid UTF-8", () => {
  const b = ggufHeader(3, 0, 1).u64(2).raw(0xc3, 0x28).u32(0).u8(1);
  rejects(() => readGguf(b.build()), /byte 32: metadata key 0: expected valid UTF-8/);
});

Deno.test("readGguf() rejects a duplicate key", () => {
  const b = ggufHeader(3, 0, 2).str("k").u32(0).u8(1);
  const at = b.at();
  b.str("k").u32(0).u8(2);
  rejects(() => readGguf(b.build()), new RegExp(`byte ${at}: metadata key 1`), /duplicate 'k'/);
});

Deno.test("readGguf() rejects an unknown value type and a bool other than 0 or 1", () => {
  rejects(() => readGguf(oneKv("k", 13, (b) => b.u8(0))), /byte 33: type of 'k'/, /found 13/);
  rejects(() => readGguf(oneKv("k", 7, (b) => b.u8(2))), /byte 37: 'k': expected a bool/);
});

Deno.test("readGguf() rejects an array count the bytes left cannot hold", () => {
  // 1000 uint32 items need 4000 bytes; 8 are left
  const bytes = oneKv("k", 9, (b) => b.u32(4).u64(1000).u32(1).u32(2));
  rejects(() => readGguf(bytes), /byte 41: 'k' count/, /found 1000/);
  // an array of strings: each needs at least its 8-byte length
  const strs = oneKv("k", 9, (b) => b.u32(8).u64(3).u64(0).u64(0));
  rejects(() => readGguf(strs), /'k' count/, /found 3/);
});

Deno.test("readGguf() rejects arrays nested deeper than 8", () => {
  const bytes = oneKv("k", 9, (b) => {
    for (let i = 0; i < 9; i++) b.u32(9).u64(1);
    b.u32(0).u64(0);
  });
  rejects(() => readGguf(bytes), /nested at most 8 deep/, /depth 9/);
});

Deno.test("readGguf() rejects general.alignment that is not a power of two or not a uint32", () => {
  rejects(
    () => readGguf(oneKv("general.alignment", 4, (b) => b.u32(48))),
    /byte 53: general\.alignment: expected a power of two, found 48/,
  );
  rejects(() => readGguf(oneKv("general.alignment", 4, (b) => b.u32(0))), /power of two, found 0/);
  rejects(
    () => readGguf(oneKv("general.alignment", 10, (b) => b.u64(32))),
    /expected a uint32, found a uint64/,
  );
});

/** A v3 file with one tensor info written by `info`, then 64 zero bytes. */
function oneTensor(info: (b: Bytes) => void): Uint8Array {
  const b = ggufHeader(3, 1, 0).str("w");
  info(b);
  return b.pad(32).raw(...new Array(64).fill(0)).build();
}

Deno.test("readGguf() rejects n_dims outside 1..4", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(5))),
    /byte 33: tensor 'w' n_dims: expected 1 to 4, found 5/,
  );
  rejects(() => readGguf(oneTensor((b) => b.u32(0))), /n_dims: expected 1 to 4, found 0/);
});

Deno.test("readGguf() rejects a zero or negative dim", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(2).u64(4).u64(0))),
    /byte 45: tensor 'w' ne\[1\]/,
    /found 0/,
  );
  rejects(
    () => readGguf(oneTensor((b) => b.u32(1).u64(-3))),
    /byte 37: tensor 'w' ne\[0\]/,
    /found -3/,
  );
});

Deno.test("readGguf() rejects dims whose product overflows or exceeds the file", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(3).u64(2 ** 30).u64(2 ** 30).u64(2 ** 30))),
    /byte 45: tensor 'w' ne\[1\]/,
    /overflows/,
  );
  rejects(
    () => readGguf(oneTensor((b) => b.u32(2).u64(1000000).u64(1000).u32(0).u64(0))),
    /byte 33: tensor 'w' dims/,
    /no larger than the file/,
  );
});

Deno.test("readGguf() rejects unknown and unsupported tensor types", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(1).u64(4).u32(12).u64(0))),
    /byte 45: tensor 'w' type/,
    /q4_K \(12\)/,
  );
  rejects(() => readGguf(oneTensor((b) => b.u32(1).u64(4).u32(99).u64(0))), /unknown \(99\)/);
});

Deno.test("readGguf() rejects a row that is not a whole number of blocks", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(1).u64(16).u32(GgmlType.Q8_0).u64(0))),
    /tensor 'w' ne\[0\]: expected a multiple of the q8_0 block size 32, found 16/,
  );
});

Deno.test("readGguf() rejects a duplicate tensor name", () => {
  const b = ggufHeader(3, 2, 0);
  tensorInfo(b, "w", [1], 0, 0);
  const at = b.at();
  tensorInfo(b, "w", [1], 0, 32);
  b.pad(32).raw(...new Array(64).fill(0));
  rejects(() => readGguf(b.build()), new RegExp(`byte ${at}: tensor 1 name`), /duplicate 'w'/);
});

Deno.test("readGguf() rejects an offset that is unaligned or out of bounds", () => {
  rejects(
    () => readGguf(oneTensor((b) => b.u32(1).u64(1).u32(0).u64(4))),
    /byte 49: tensor 'w' offset: expected a multiple of the alignment 32, found 4/,
  );
  rejects(
    () => readGguf(oneTensor((b) => b.u32(1).u64(1).u32(0).u64(2 ** 40))),
    /byte 49: tensor 'w' offset/,
    /within the file/,
  );
});

// ggml's gguf_init_from_file_impl: tensor i's offset must equal the sum of the padded sizes of
// tensors 0..i-1 (ctx->size), so tensors are in file order and their data never overlaps.
Deno.test("readGguf() rejects overlapping, aliased and out-of-order tensor data as ggml does", () => {
  const two = (offA: number, offB: number) => {
    const b = ggufHeader(3, 2, 0);
    tensorInfo(b, "a", [16], GgmlType.F32, offA); // 64 bytes: padded size 64
    const bAt = b.at();
    tensorInfo(b, "b", [8], GgmlType.F32, offB);
    b.pad(32).raw(...new Array(128).fill(0));
    return { bytes: b.build(), bOffsetAt: bAt + 8 + 1 + 4 + 8 + 4 };
  };
  assert.equal(readGguf(two(0, 64).bytes).tensors[1]!.offset, 64, "the ggml layout loads");
  for (const [offB, note] of [[0, /overlaps/], [32, /overlaps/], [96, /found 96$/]] as const) {
    const { bytes, bOffsetAt } = two(0, offB);
    rejects(
      () => readGguf(bytes),
      new RegExp(`byte ${bOffsetAt}: tensor 'b' offset: expected 64 \\(the padded sizes`),
      note,
    );
  }
  // Swapped order: the first tensor must start at 0.
  rejects(() => readGguf(two(32, 0).bytes), /tensor 'a' offset: expected 0 .*found 32$/);
});

Deno.test("readGguf() accepts a 63-byte tensor name and rejects a 64-byte one, as ggml does", () => {
  const named = (name: string) =>
    simpleGguf([{ name, ne: [1], type: GgmlType.F32, data: [0, 0, 0, 0] }]);
  assert.equal(readGguf(named("n".repeat(63))).tensors[0]!.name.length, 63);
  rejects(
    () => readGguf(named("n".repeat(64))),
    /byte 24: tensor 0 name: expected at most 63 bytes \(ggml's GGML_MAX_NAME - 1\), found 64 bytes/,
  );
  // Bytes, not characters: 32 two-byte characters are 64 bytes.
  rejects(() => readGguf(named("é".repeat(32))), /found 64 bytes/);
});

Deno.test("readGguf() rejects tensor data past the end of the file", () => {
  const bytes = simpleGguf([{
    name: "w",
    ne: [8],
    type: GgmlType.F32,
    data: new Array(32).fill(0),
  }]);
  rejects(
    () => readGguf(bytes.subarray(0, bytes.length - 4)),
    /byte 24: tensor 'w' data/,
    /past the end/,
  );
});

Deno.test("readGguf() rejects a truncated tensor table", () => {
  const bytes = simpleGguf([{
    name: "w",
    ne: [8],
    type: GgmlType.F32,
    data: new Array(32).fill(0),
  }]);
  rejects(() => readGguf(bytes.subarray(0, 56)), /byte 49: tensor 'w' offset/, /truncated/);
});

Deno.test("readGguf() throws only FormatErrors on 3,000 corrupted or truncated files", async () => {
  const { writeGguf, gguf } = await import("../ggml/gguf_writer.ts");
  const { quantize } = await import("../ggml/quant.ts");
  const x = new Float32Array(64).map((_, i) => i / 7);
  const good = writeGguf({
    metadata: [
      ["general.architecture", gguf.string("fuzz")],
      [
        "a",
        gguf.array("array", [gguf.array("string", [gguf.string("s")]), gguf.array("int32", [])]),
      ],
      ["b", gguf.float32(1)],
    ],
    tensors: [
      { name: "w", ne: [32, 2], type: GgmlType.Q4_1, data: quantize(GgmlType.Q4_1, x) },
      { name: "v", ne: [64], type: GgmlType.F16, data: quantize(GgmlType.F16, x) },
    ],
    alignment: 64,
  });
  let s = 99;
  const rand = (n: number) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n;
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = good.slice(0, i % 3 === 0 ? rand(good.length) : good.length);
    const headerEnd = Math.min(bytes.length, 260); // corrupt the header and tables, not the data
    for (let k = 0; k <= rand(3); k++) {
      if (headerEnd > 0) bytes[rand(headerEnd)] = [0, 0xff, 0x80, rand(256)][rand(4)]!;
    }
    try {
      const f = readGguf(bytes);
      for (const t of f.tensors) tensorToF32(t);
    } catch (e) {
      if (!(e instanceof FormatError)) throw new Error(`case ${i}: ${e}`);
      rejected++;
    }
  }
  assert.ok(rejected > 1000, `only ${rejected} of 3000 corrupted files were rejected`);
});
