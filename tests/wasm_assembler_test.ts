/**
 * The WebAssembly assembler (wasm/): its opcode table against the numbers of the WebAssembly
 * specification, every SIMD entry in a module the engine validates, the binary encodings
 * (LEB128, limits, sections) and the address helpers by running what they assemble.
 *
 * Spec numbers below are typed in from the WebAssembly core specification 2.0, section 5.4
 * (binary format of instructions; SIMD sub-opcodes in 5.4.8) and the relaxed-SIMD proposal's
 * opcode table, independently of wasm/opcodes.ts, so a wrong entry there fails here.
 */
import assert from "node:assert/strict";
import {
  BULK,
  Bytes,
  encodeMemoryModule,
  encodeModule,
  F32,
  F64,
  Fn,
  I32,
  LIMITS,
  ModuleBuilder,
  OP,
  SECTION,
  SIMD,
  V128,
  type ValType,
} from "../wasm/assembler.ts";

/** Core opcodes: spec mnemonic and number (spec 5.4.1-5.4.7). */
const SPEC_OP: Record<keyof typeof OP, readonly [string, number]> = {
  block: ["block", 0x02],
  loop: ["loop", 0x03],
  if: ["if", 0x04],
  end: ["end", 0x0b],
  br: ["br", 0x0c],
  brIf: ["br_if", 0x0d],
  call: ["call", 0x10],
  select: ["select", 0x1b],
  localGet: ["local.get", 0x20],
  localSet: ["local.set", 0x21],
  localTee: ["local.tee", 0x22],
  i32Load: ["i32.load", 0x28],
  f32Load: ["f32.load", 0x2a],
  i32Store: ["i32.store", 0x36],
  f32Store: ["f32.store", 0x38],
  i32Const: ["i32.const", 0x41],
  f32Const: ["f32.const", 0x43],
  f64Const: ["f64.const", 0x44],
  i32Eqz: ["i32.eqz", 0x45],
  i32Eq: ["i32.eq", 0x46],
  i32Ne: ["i32.ne", 0x47],
  i32LtS: ["i32.lt_s", 0x48],
  i32LtU: ["i32.lt_u", 0x49],
  i32GtS: ["i32.gt_s", 0x4a],
  i32GeU: ["i32.ge_u", 0x4f],
  f32Ne: ["f32.ne", 0x5c],
  f32Lt: ["f32.lt", 0x5d],
  f32Gt: ["f32.gt", 0x5e],
  i32Add: ["i32.add", 0x6a],
  i32Sub: ["i32.sub", 0x6b],
  i32Mul: ["i32.mul", 0x6c],
  i32DivU: ["i32.div_u", 0x6e],
  i32RemU: ["i32.rem_u", 0x70],
  i32And: ["i32.and", 0x71],
  i32Shl: ["i32.shl", 0x74],
  i32ShrU: ["i32.shr_u", 0x76],
  f32Nearest: ["f32.nearest", 0x90],
  f32Add: ["f32.add", 0x92],
  f32Mul: ["f32.mul", 0x94],
  f32Div: ["f32.div", 0x95],
  f32Max: ["f32.max", 0x97],
  f64Sub: ["f64.sub", 0xa1],
  f32DemoteF64: ["f32.demote_f64", 0xb6],
  f64PromoteF32: ["f64.promote_f32", 0xbb],
  i32ReinterpretF32: ["i32.reinterpret_f32", 0xbc],
  f32ReinterpretI32: ["f32.reinterpret_i32", 0xbe],
  prefixFC: ["(0xFC prefix: saturating truncation, bulk memory)", 0xfc],
  f32Sqrt: ["f32.sqrt", 0x91],
  f32Sub: ["f32.sub", 0x93],
  f32Min: ["f32.min", 0x96],
  prefixSIMD: ["(0xFD prefix: vector instructions)", 0xfd],
};

/** 0xfc sub-opcodes (saturating truncation, bulk memory). */
const SPEC_BULK: Record<keyof typeof BULK, readonly [string, number]> = {
  i32TruncSatF32S: ["i32.trunc_sat_f32_s", 0],
  memoryCopy: ["memory.copy", 10],
  memoryFill: ["memory.fill", 11],
};

/** 0xfd sub-opcodes (spec 5.4.8; relaxed SIMD from 0x100). */
const SPEC_SIMD: Record<keyof typeof SIMD, readonly [string, number]> = {
  v128Load: ["v128.load", 0x00],
  v128Load32Splat: ["v128.load32_splat", 0x09],
  v128Store: ["v128.store", 0x0b],
  v128Store64Lane: ["v128.store64_lane", 0x5b],
  v128Load64Zero: ["v128.load64_zero", 0x5d],
  v128Const: ["v128.const", 0x0c],
  i8x16Shuffle: ["i8x16.shuffle", 0x0d],
  f32x4Splat: ["f32x4.splat", 0x13],
  f64x2Splat: ["f64x2.splat", 0x14],
  f32x4ExtractLane: ["f32x4.extract_lane", 0x1f],
  f32x4Gt: ["f32x4.gt", 0x44],
  f32x4Ge: ["f32x4.ge", 0x46],
  v128And: ["v128.and", 0x4e],
  v128Or: ["v128.or", 0x50],
  f32x4DemoteF64x2Zero: ["f32x4.demote_f64x2_zero", 0x5e],
  f64x2PromoteLowF32x4: ["f64x2.promote_low_f32x4", 0x5f],
  i8x16NarrowI16x8S: ["i8x16.narrow_i16x8_s", 0x65],
  i8x16NarrowI16x8U: ["i8x16.narrow_i16x8_u", 0x66],
  f32x4Trunc: ["f32x4.trunc", 0x69],
  f32x4Nearest: ["f32x4.nearest", 0x6a],
  i8x16ShrU: ["i8x16.shr_u", 0x6d],
  f32x4Min: ["f32x4.min", 0xe8],
  f32x4Sqrt: ["f32x4.sqrt", 0xe3],
  f32x4Neg: ["f32x4.neg", 0xe1],
  i32x4Shl: ["i32x4.shl", 0xab],
  i8x16Sub: ["i8x16.sub", 0x71],
  i16x8NarrowI32x4S: ["i16x8.narrow_i32x4_s", 0x85],
  i16x8ExtendLowI8x16S: ["i16x8.extend_low_i8x16_s", 0x87],
  i16x8ExtendHighI8x16S: ["i16x8.extend_high_i8x16_s", 0x88],
  i32x4ExtendLowI16x8S: ["i32x4.extend_low_i16x8_s", 0xa7],
  i32x4ExtendHighI16x8S: ["i32x4.extend_high_i16x8_s", 0xa8],
  i32x4Add: ["i32x4.add", 0xae],
  i32x4MaxS: ["i32x4.max_s", 0xb8],
  i32x4DotI16x8S: ["i32x4.dot_i16x8_s", 0xba],
  f32x4Abs: ["f32x4.abs", 0xe0],
  f32x4Add: ["f32x4.add", 0xe4],
  f32x4Sub: ["f32x4.sub", 0xe5],
  f32x4Mul: ["f32x4.mul", 0xe6],
  f32x4Div: ["f32x4.div", 0xe7],
  f32x4Max: ["f32x4.max", 0xe9],
  f32x4Pmin: ["f32x4.pmin", 0xea],
  f32x4Pmax: ["f32x4.pmax", 0xeb],
  f64x2Sqrt: ["f64x2.sqrt", 0xef],
  f64x2Add: ["f64x2.add", 0xf0],
  f64x2Sub: ["f64x2.sub", 0xf1],
  f64x2Mul: ["f64x2.mul", 0xf2],
  f64x2Div: ["f64x2.div", 0xf3],
  i32x4TruncSatF32x4S: ["i32x4.trunc_sat_f32x4_s", 0xf8],
  f32x4ConvertI32x4S: ["f32x4.convert_i32x4_s", 0xfa],
  f32x4RelaxedMadd: ["f32x4.relaxed_madd", 0x105],
  i32x4RelaxedDotI8x16I7x16AddS: ["i32x4.relaxed_dot_i8x16_i7x16_add_s", 0x113],
};

Deno.test("every opcode in the table has the WebAssembly spec's number", () => {
  const tables = [[OP, SPEC_OP], [BULK, SPEC_BULK], [SIMD, SPEC_SIMD]] as const;
  for (const [table, spec] of tables) {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(spec).sort());
    for (const [key, [mnemonic, number]] of Object.entries(spec)) {
      assert.equal((table as Record<string, number>)[key], number, `${mnemonic} (${key})`);
    }
  }
  // No two names for one number in a table (a copy-paste slip would show here).
  for (const table of [OP, BULK, SIMD]) {
    const numbers = Object.values(table);
    assert.equal(new Set(numbers).size, numbers.length);
  }
  assert.deepEqual([I32, F32, F64, V128], [0x7f, 0x7d, 0x7c, 0x7b]);
  assert.deepEqual([SECTION.type, SECTION.import, SECTION.code], [1, 2, 10]);
  assert.deepEqual([LIMITS.min, LIMITS.minMax, LIMITS.sharedMinMax], [0, 1, 3]);
});

/** How to use one SIMD instruction: operand types (pushed from params), result, the emission. */
interface Use {
  readonly params: readonly ValType[];
  readonly result: ValType | null;
  readonly emit: (f: Fn) => void;
}
const unary = (op: number): Use => ({ params: [V128], result: V128, emit: (f) => f.simd(op) });
const binary = (op: number): Use => ({
  params: [V128, V128],
  result: V128,
  emit: (f) => f.simd(op),
});
const ternary = (op: number): Use => ({
  params: [V128, V128, V128],
  result: V128,
  emit: (f) => f.simd(op),
});

const SIMD_USE: Record<keyof typeof SIMD, Use> = {
  v128Load: { params: [I32], result: V128, emit: (f) => f.v128Load(16) },
  v128Load32Splat: { params: [I32], result: V128, emit: (f) => f.splatLoad(4) },
  v128Store: { params: [I32, V128], result: null, emit: (f) => f.v128Store(32) },
  v128Store64Lane: { params: [I32, V128], result: null, emit: (f) => f.v128Store64Lane(1, 8) },
  v128Load64Zero: { params: [I32], result: V128, emit: (f) => f.v128Load64Zero(8) },
  v128Const: { params: [], result: V128, emit: (f) => f.i32x4Const([1, -1, 0x7fffffff, 0]) },
  i8x16Shuffle: {
    params: [V128, V128],
    result: V128,
    emit: (f) => f.i8x16Shuffle([0, 17, 2, 19, 4, 21, 6, 23, 8, 25, 10, 27, 12, 29, 14, 31]),
  },
  f32x4Splat: { params: [F32], result: V128, emit: (f) => f.simd(SIMD.f32x4Splat) },
  f64x2Splat: { params: [F64], result: V128, emit: (f) => f.simd(SIMD.f64x2Splat) },
  f32x4ExtractLane: { params: [V128], result: F32, emit: (f) => f.f32x4ExtractLane(3) },
  f32x4Gt: binary(SIMD.f32x4Gt),
  f32x4Ge: binary(SIMD.f32x4Ge),
  v128And: binary(SIMD.v128And),
  v128Or: binary(SIMD.v128Or),
  f32x4DemoteF64x2Zero: unary(SIMD.f32x4DemoteF64x2Zero),
  f64x2PromoteLowF32x4: unary(SIMD.f64x2PromoteLowF32x4),
  i8x16NarrowI16x8S: binary(SIMD.i8x16NarrowI16x8S),
  i8x16NarrowI16x8U: binary(SIMD.i8x16NarrowI16x8U),
  f32x4Trunc: unary(SIMD.f32x4Trunc),
  f32x4Nearest: unary(SIMD.f32x4Nearest),
  i32x4Shl: { params: [V128, I32], result: V128, emit: (f) => f.simd(SIMD.i32x4Shl) },
  f32x4Neg: unary(SIMD.f32x4Neg),
  f32x4Sqrt: unary(SIMD.f32x4Sqrt),
  f32x4Min: binary(SIMD.f32x4Min),
  i8x16ShrU: { params: [V128, I32], result: V128, emit: (f) => f.simd(SIMD.i8x16ShrU) },
  i8x16Sub: binary(SIMD.i8x16Sub),
  i16x8NarrowI32x4S: binary(SIMD.i16x8NarrowI32x4S),
  i16x8ExtendLowI8x16S: unary(SIMD.i16x8ExtendLowI8x16S),
  i16x8ExtendHighI8x16S: unary(SIMD.i16x8ExtendHighI8x16S),
  i32x4ExtendLowI16x8S: unary(SIMD.i32x4ExtendLowI16x8S),
  i32x4ExtendHighI16x8S: unary(SIMD.i32x4ExtendHighI16x8S),
  i32x4Add: binary(SIMD.i32x4Add),
  i32x4MaxS: binary(SIMD.i32x4MaxS),
  i32x4DotI16x8S: binary(SIMD.i32x4DotI16x8S),
  f32x4Abs: unary(SIMD.f32x4Abs),
  f32x4Add: binary(SIMD.f32x4Add),
  f32x4Sub: binary(SIMD.f32x4Sub),
  f32x4Mul: binary(SIMD.f32x4Mul),
  f32x4Div: binary(SIMD.f32x4Div),
  f32x4Max: binary(SIMD.f32x4Max),
  f32x4Pmin: binary(SIMD.f32x4Pmin),
  f32x4Pmax: binary(SIMD.f32x4Pmax),
  f64x2Sqrt: unary(SIMD.f64x2Sqrt),
  f64x2Add: binary(SIMD.f64x2Add),
  f64x2Sub: binary(SIMD.f64x2Sub),
  f64x2Mul: binary(SIMD.f64x2Mul),
  f64x2Div: binary(SIMD.f64x2Div),
  i32x4TruncSatF32x4S: unary(SIMD.i32x4TruncSatF32x4S),
  f32x4ConvertI32x4S: unary(SIMD.f32x4ConvertI32x4S),
  f32x4RelaxedMadd: ternary(SIMD.f32x4RelaxedMadd),
  i32x4RelaxedDotI8x16I7x16AddS: ternary(SIMD.i32x4RelaxedDotI8x16I7x16AddS),
};

/** A module with one memory and one exported function `f` that applies `use` to its params. */
function moduleUsing(use: Use): Uint8Array<ArrayBuffer> {
  const f = new Fn(use.params, use.result === null ? [] : [use.result]);
  use.params.forEach((_, i) => f.get(i));
  use.emit(f);
  const m = new ModuleBuilder();
  m.memory({ min: 1 });
  m.exportFunction("f", m.function(f));
  return m.encode();
}

Deno.test("a module using each SIMD instruction of the table validates", () => {
  for (const [name, use] of Object.entries(SIMD_USE)) {
    assert.ok(
      WebAssembly.validate(moduleUsing(use)),
      `${name} (${SPEC_SIMD[name as keyof typeof SIMD][0]})`,
    );
  }
  // The check can fail: the same instructions with a wrong operand type are rejected.
  assert.equal(WebAssembly.validate(moduleUsing({ ...SIMD_USE.f32x4Splat, params: [I32] })), false);
  assert.equal(WebAssembly.validate(moduleUsing({ ...SIMD_USE.f32x4Add, params: [V128] })), false);
});

Deno.test("Bytes: LEB128 as the spec's examples, range checks", () => {
  assert.deepEqual([...new Bytes().u32(624485).toUint8Array()], [0xe5, 0x8e, 0x26]);
  assert.deepEqual([...new Bytes().u32(0xffffffff).toUint8Array()], [0xff, 0xff, 0xff, 0xff, 0x0f]);
  assert.deepEqual([...new Bytes().s32(-123456).toUint8Array()], [0xc0, 0xbb, 0x78]);
  assert.deepEqual([...new Bytes().s32(63).toUint8Array()], [0x3f]);
  assert.deepEqual([...new Bytes().s32(64).toUint8Array()], [0xc0, 0x00]);
  assert.deepEqual([...new Bytes().s32(-64).toUint8Array()], [0x40]);
  assert.deepEqual([...new Bytes().i32le(-2).toUint8Array()], [0xfe, 0xff, 0xff, 0xff]);
  assert.throws(() => new Bytes().u32(-1), /u32 out of range: -1/);
  assert.throws(() => new Bytes().s32(2 ** 31), /s32 out of range/);
  assert.throws(() => new Fn().i8x16Shuffle([0, 1, 2]), /16 lane indices/);
  assert.throws(() => new Fn().i8x16Shuffle(Array(16).fill(32)), /0\.\.31/);
  assert.throws(() => new Fn().i32x4Const([1, 2, 3]), /4 lanes/);
  assert.throws(() => new Fn().v128Store64Lane(2), /lane 0 or 1/);
});

Deno.test("ModuleBuilder: memory limits as encoded, shared memory import, indices", () => {
  const sizes = (limits: Parameters<ModuleBuilder["importMemory"]>[2]) => {
    const m = new ModuleBuilder();
    m.importMemory("env", "mem", limits);
    const b = m.encode();
    // preamble, import section id and size, count 1, "env", "mem", kind 2, then the limits
    return [...b.subarray(8 + 2 + 1 + 4 + 4 + 1)];
  };
  assert.deepEqual(sizes({ min: 1 }), [0x00, 1]);
  assert.deepEqual(sizes({ min: 2, max: 300 }), [0x01, 2, 0xac, 0x02]);
  assert.deepEqual(sizes({ min: 3, max: 3, shared: true }), [0x03, 3, 3]);
  assert.throws(() => sizes({ min: 1, shared: true }), /shared memory needs a maximum/);

  const m = new ModuleBuilder();
  const t = m.type([F32], [F32]);
  assert.equal(m.importFunction("m", "neg", t), 0);
  assert.equal(m.function(new Fn([F32], [F32]).get(0).call(0)), 1);
  assert.throws(() => m.importFunction("m", "late", t), /import functions before/);
});

Deno.test("the assembled code runs: address helpers, loops, SIMD loads and stores", async () => {
  // f(n): for i in 0..n: mem[100 + i*8] = i * 3 (as i32), then returns the 4-lane sum of
  // mem[100..116) copied to 200 with v128LoadFrom / v128StoreTo.
  const f = new Fn([I32], [I32]);
  const i = f.local(I32), p = f.local(I32), v = f.local(V128);
  f.i32(0).set(i);
  f.block(() => {
    f.loop(() => {
      f.get(i).get(0).op(OP.i32LtS, OP.i32Eqz).brIf(1);
      f.index(i, 8, 100).get(i).mulConst(3).i32Store();
      f.inc(i, 1);
      f.br(0);
    });
  });
  f.i32(100).set(p);
  f.v128LoadFrom(p).set(v);
  f.i32(96).set(p);
  f.v128StoreTo(p, 104, v); // 96 + 104 = 200
  f.i32(200).i32Load().i32(200).i32Load(4).op(OP.i32Add);
  f.i32(200).i32Load(8).op(OP.i32Add).i32(200).i32Load(12).op(OP.i32Add);
  const bytes = encodeModule({ imports: [], functions: [{ name: "f", fn: f }], pages: 1 });
  const { instance } = await WebAssembly.instantiate(bytes);
  const run = instance.exports.f as (n: number) => number;
  const mem = new Int32Array((instance.exports.memory as WebAssembly.Memory).buffer);
  assert.equal(run(3), 0 + 0 + 3 + 0); // lanes at 100, 104, 108, 112: i=0, pad, i=1, pad
  assert.deepEqual([...mem.subarray(25, 32)], [0, 0, 3, 0, 6, 0, 0]);
  assert.deepEqual([...mem.subarray(50, 54)], [0, 0, 3, 0]);

  // for(): c = 4, 7, 10 with step 3 below 12; incBy adds a local.
  const g = new Fn([], [I32]);
  const c = g.local(I32), s = g.local(I32);
  g.for(c, 4, 12, 3, () => g.incBy(s, c));
  g.get(s);
  const m2 = await WebAssembly.instantiate(
    encodeModule({ imports: [], functions: [{ name: "g", fn: g }], pages: 1 }),
  );
  assert.equal((m2.instance.exports.g as () => number)(), 4 + 7 + 10);
  assert.throws(() => g.for(c, 3, 3, 1, () => {}), /empty loop 3\.\.3/);
});

Deno.test("the assembled code runs: f32 pairs through f64x2 lanes", async () => {
  // f(src, dst, x): the two f32 at src become f64 lanes v, (v·x / sqrt(4) + 0.5) - 0.5 is
  // demoted and its low 8 bytes (two f32) are stored at dst, the next 8 bytes untouched. Then
  // mem[64..80) = mem[32..48) where it is greater than mem[48..64), else +0.
  const f = new Fn([I32, I32, F64], []);
  f.get(1);
  f.get(0).v128Load64Zero().simd(SIMD.f64x2PromoteLowF32x4);
  f.get(2).simd(SIMD.f64x2Splat).simd(SIMD.f64x2Mul);
  f.f64(4).simd(SIMD.f64x2Splat).simd(SIMD.f64x2Sqrt).simd(SIMD.f64x2Div);
  f.f64(0.5).simd(SIMD.f64x2Splat).simd(SIMD.f64x2Add);
  f.f64(0.5).simd(SIMD.f64x2Splat).simd(SIMD.f64x2Sub);
  f.simd(SIMD.f32x4DemoteF64x2Zero).v128Store64Lane(0);
  f.i32(64).i32(32).v128Load().i32(32).v128Load(16).simd(SIMD.f32x4Gt);
  f.i32(32).v128Load().simd(SIMD.v128And).v128Store();
  const bytes = encodeModule({ imports: [], functions: [{ name: "f", fn: f }], pages: 1 });
  const { instance } = await WebAssembly.instantiate(bytes);
  const mem = new Float32Array((instance.exports.memory as WebAssembly.Memory).buffer);
  mem.set([1.5, -3, 7, 7], 0); // src at 0, dst at 8 (its last two floats must stay 7)
  mem.set([1, 2, 3, 4, 0, 2, 5, 4], 8); // compared at 32 vs 48
  (instance.exports.f as (src: number, dst: number, x: number) => void)(0, 8, 3);
  assert.deepEqual([...mem.subarray(2, 4)], [2.25, -4.5]);
  assert.deepEqual([...mem.subarray(16, 20)], [1, 0, 0, 0]);
});

Deno.test("encodeMemoryModule: the spec's data and custom sections, the data last; kernels import its memory", async () => {
  const data = new Uint8Array([9, 8, 7]);
  const file = encodeMemoryModule(1, 300, data, { "ggufc.weights": new Uint8Array([0x61]) });
  assert.deepEqual([...file.subarray(0, 8)], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  // custom section (id 0): size 15, name "ggufc.weights" (13 bytes), payload "a".
  assert.deepEqual([...file.subarray(8, 10)], [0, 15]);
  assert.equal(new TextDecoder().decode(file.subarray(11, 24)), "ggufc.weights");
  // data section (id 11), one active segment for memory 0: i32.const 300 (signed LEB128 ac 02),
  // end, 3 bytes; the segment's bytes are the file's last bytes.
  assert.deepEqual(
    [...file.subarray(file.length - 12)],
    [11, 10, 1, 0, 0x41, 0xac, 0x02, 0x0b, 3, 9, 8, 7],
  );
  const module = await WebAssembly.compile(file);
  assert.deepEqual(
    [...new Uint8Array(WebAssembly.Module.customSections(module, "ggufc.weights")[0]!)],
    [0x61],
  );
  const { exports } = await WebAssembly.instantiate(module);
  const memory = exports.memory as WebAssembly.Memory;
  assert.deepEqual([...new Uint8Array(memory.buffer, 299, 5)], [0, 9, 8, 7, 0]);
  // A module built with importMemory uses that memory as its own (and re-exports it).
  const load = new Fn([], [I32]).i32(300).i32Load();
  const kernels = encodeModule({
    imports: [["m", "exp"]],
    functions: [{ name: "at300", fn: load }],
    pages: 1,
    importMemory: true,
  });
  const k = await WebAssembly.instantiate(kernels, { m: { exp: Math.exp, memory } });
  assert.equal(k.instance.exports.memory, memory);
  assert.equal((k.instance.exports.at300 as () => number)(), 0x00070809);
  assert.throws(() => encodeMemoryModule(1, 65535, data), /3 bytes at 65535 do not fit in 1 pages/);
});
