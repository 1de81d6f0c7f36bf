import assert from "node:assert/strict";
import { gguf, writeGguf } from "../ggml/gguf_writer.ts";
import { type GgufValue, readGguf, tensorToF32 } from "../ggml/gguf_reader.ts";
import { GgmlType } from "../ggml/ggml_types.ts";
import { quantize } from "../ggml/quant.ts";
import { ggufHeader, tensorInfo } from "./helpers/gguf_builder.ts";

const ALL_VALUES: [string, GgufValue][] = [
  ["v.u8", { type: "uint8", value: 255 }],
  ["v.i8", { type: "int8", value: -128 }],
  ["v.u16", { type: "uint16", value: 65535 }],
  ["v.i16", { type: "int16", value: -1234 }],
  ["v.u32", { type: "uint32", value: 0xffffffff }],
  ["v.i32", { type: "int32", value: -0x80000000 }],
  ["v.f32", { type: "float32", value: -0.125 }],
  ["v.f64", { type: "float64", value: 1 / 3 }],
  ["v.u64", { type: "uint64", value: 2n ** 64n - 1n }],
  ["v.i64", { type: "int64", value: -(2n ** 63n) }],
  ["v.bool", { type: "bool", value: false }],
  ["v.str", { type: "string", value: "ünïcode ✓" }],
  ["v.arr", gguf.array("float32", [gguf.float32(1), gguf.float32(2.5)])],
  [
    "v.nested",
    gguf.array("array", [gguf.array("string", [gguf.string("a")]), gguf.array("bool", [])]),
  ],
];

Deno.test("writeGguf() output reads back with equal metadata and tensors of every type", () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  const types = [
    GgmlType.F32,
    GgmlType.F16,
    GgmlType.BF16,
    GgmlType.Q4_0,
    GgmlType.Q4_1,
    GgmlType.Q5_0,
    GgmlType.Q5_1,
    GgmlType.Q8_0,
  ];
  const tensors = types.map((type) => ({
    name: `t.${GgmlType[type]}`,
    ne: [32, 2],
    type,
    data: quantize(type, x),
  }));
  for (const alignment of [32, 64, 8]) {
    const bytes = writeGguf({ metadata: ALL_VALUES, tensors, alignment });
    const f = readGguf(bytes);
    assert.equal(f.version, 3);
    assert.equal(f.alignment, alignment);
    const want = new Map(ALL_VALUES);
    if (alignment !== 32) want.set("general.alignment", { type: "uint32", value: alignment });
    assert.deepEqual(f.metadata, want);
    assert.equal(f.tensors.length, tensors.length);
    f.tensors.forEach((t, i) => {
      assert.equal(t.name, tensors[i]!.name);
      assert.deepEqual(t.ne, [32, 2]);
      assert.equal(t.type, tensors[i]!.type);
      assert.equal(t.offset % alignment, 0);
      assert.deepEqual(t.data, tensors[i]!.data);
    });
    assert.equal(bytes.length % alignment, 0);
    assert.deepEqual(writeGguf({ metadata: ALL_VALUES, tensors, alignment }), bytes); // deterministic
  }
});

Deno.test("writeGguf() lays out bytes as the spec says (checked against a hand-built file)", () => {
  // two tensors of 3 and 1 float32: data padded to 32 after each one, the infos padded to 32
  const a = new Float32Array([1, 2, 3]), b = new Float32Array([4]);
  const written = writeGguf({
    metadata: [["general.architecture", gguf.string("x")], [
      "n",
      gguf.array("uint16", [gguf.uint16(7)]),
    ]],
    tensors: [
      { name: "a", ne: [3], type: GgmlType.F32, data: quantize(GgmlType.F32, a) },
      { name: "b", ne: [1], type: GgmlType.F32, data: quantize(GgmlType.F32, b) },
    ],
  });
  const h = ggufHeader(3, 2, 2).str("general.architecture").u32(8).str("x").str("n").u32(9).u32(2)
    .u64(1).u16(7);
  tensorInfo(h, "a", [3], 0, 0);
  tensorInfo(h, "b", [1], 0, 32);
  h.pad(32).f32(1).f32(2).f32(3).pad(32).f32(4).pad(32);
  assert.deepEqual(written, h.build());
});

Deno.test("gguf.uint16 and friends build tagged values", () => {
  assert.deepEqual(gguf.uint16(3), { type: "uint16", value: 3 });
  assert.deepEqual(gguf.int64(-1n), { type: "int64", value: -1n });
});

Deno.test("writeGguf() rejects duplicates, wrong sizes, bad alignment and mixed arrays", () => {
  const t = { name: "w", ne: [2], type: GgmlType.F32, data: new Uint8Array(8) };
  const k = gguf.uint32(1);
  assert.throws(
    () => writeGguf({ metadata: [["k", k], ["k", k]], tensors: [] }),
    /Duplicate metadata key 'k'/,
  );
  assert.throws(() => writeGguf({ metadata: [], tensors: [t, t] }), /Duplicate tensor name 'w'/);
  assert.throws(
    () => writeGguf({ metadata: [], tensors: [{ ...t, data: new Uint8Array(4) }] }),
    /needs 8 bytes, got 4/,
  );
  assert.throws(
    () => writeGguf({ metadata: [], tensors: [{ ...t, ne: [1, 1, 1, 1, 2] }] }),
    /1 to 4 dims/,
  );
  assert.throws(() => writeGguf({ metadata: [], tensors: [], alignment: 48 }), /power of two/);
  assert.throws(
    () =>
      writeGguf({ metadata: [["general.alignment", gguf.uint32(64)]], tensors: [], alignment: 32 }),
    /disagrees/,
  );
  assert.throws(
    () => writeGguf({ metadata: [["a", gguf.array("uint8", [gguf.uint32(1)])]], tensors: [] }),
    /'a'\[0\] is a uint32, the array holds uint8/,
  );
  assert.throws(
    () => writeGguf({ metadata: [["a", gguf.uint8(256)]], tensors: [] }),
    /not an integer in 0\.\.255/,
  );
});

Deno.test("writeGguf() takes the alignment from general.alignment when no option is given", () => {
  const data = quantize(GgmlType.F32, new Float32Array([1]));
  const bytes = writeGguf({
    metadata: [["general.alignment", gguf.uint32(128)]],
    tensors: [{ name: "w", ne: [1], type: GgmlType.F32, data }, {
      name: "v",
      ne: [1],
      type: GgmlType.F32,
      data,
    }],
  });
  const f = readGguf(bytes);
  assert.equal(f.alignment, 128);
  assert.equal(f.dataOffset, 128);
  assert.equal(f.tensors[1]!.offset, 128);
  assert.deepEqual([...tensorToF32(f.tensors[1]!)], [1]);
});
