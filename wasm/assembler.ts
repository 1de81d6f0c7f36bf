/**
 * A small typed WebAssembly assembler: LEB128 and the other binary encodings ({@link Bytes}),
 * a function-body builder with the instructions the kernels use ({@link Fn}), and a module
 * builder ({@link ModuleBuilder}, and {@link encodeModule} for the compiler's module shape).
 * Every opcode comes from the one table in `opcodes.ts`.
 *
 * Written for this project rather than taking `wabt`: the kernels are generated
 * programmatically (no text format needed), the assembler has no dependency, and every byte it
 * writes is visible here.
 *
 * @example
 * ```ts
 * import { Fn, I32, ModuleBuilder, OP } from "./assembler.ts";
 * const add = new Fn([I32, I32], [I32]).get(0).get(1).op(OP.i32Add);
 * const m = new ModuleBuilder();
 * m.exportFunction("add", m.function(add));
 * const { instance } = await WebAssembly.instantiate(m.encode());
 * (instance.exports.add as (a: number, b: number) => number)(2, 3); // 5
 * ```
 *
 * @module
 */
import {
  BULK,
  DATA_ACTIVE_MEMORY0,
  EXTERN,
  F64,
  LIMITS,
  OP,
  PREAMBLE,
  SECTION,
  SIMD,
  TYPE,
  type ValType,
} from "./opcodes.ts";

export * from "./opcodes.ts";

/** Growable byte buffer with the encodings the binary format uses. */
export class Bytes {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(256);
  private n = 0;

  /** Bytes written. */
  get length(): number {
    return this.n;
  }

  /** Appends raw bytes. */
  u8(...bytes: number[]): this {
    for (const b of bytes) {
      if (this.n === this.buf.length) {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf);
        this.buf = bigger;
      }
      this.buf[this.n++] = b & 0xff;
    }
    return this;
  }

  /** Unsigned LEB128. */
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`u32 out of range: ${v}`);
    do {
      let b = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.u8(b);
    } while (v !== 0);
    return this;
  }

  /** Signed LEB128 (i32 range). */
  s32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new Error(`s32 out of range: ${v}`);
    }
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
      this.u8(done ? b : b | 0x80);
      if (done) return this;
    }
  }

  /** Little-endian i32 (two's complement; used for v128 lanes). */
  i32le(v: number): this {
    return this.u8(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  /** Little-endian f32. */
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.u8(...b);
  }

  /** Little-endian f64. */
  f64(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.u8(...b);
  }

  /** Appends another buffer's bytes. */
  bytes(b: Uint8Array | Bytes): this {
    const src = b instanceof Bytes ? b.toUint8Array() : b;
    if (this.n + src.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.n + src.length));
      bigger.set(this.buf.subarray(0, this.n));
      this.buf = bigger;
    }
    this.buf.set(src, this.n);
    this.n += src.length;
    return this;
  }

  /** A length-prefixed UTF-8 name. */
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }

  /** A vector: its length, then each item written by `write`. */
  vec<T>(items: readonly T[], write: (item: T) => void): this {
    this.u32(items.length);
    for (const item of items) write(item);
    return this;
  }

  /** A copy of the bytes written. */
  toUint8Array(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.n);
  }
}

/**
 * Builder of one function body. Locals are declared with {@link Fn.local}; every method appends
 * one instruction (or a short named sequence) and returns the builder, so code reads as the
 * stack machine runs it.
 */
export class Fn {
  readonly body = new Bytes();
  private readonly locals: ValType[] = [];

  /**
   * @param params parameter types
   * @param results result types
   */
  constructor(
    readonly params: readonly ValType[] = [],
    readonly results: readonly ValType[] = [],
  ) {}

  /** Declares a local; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  /** Instructions without immediates, by name from {@link OP}. */
  op(...ops: number[]): this {
    this.body.u8(...ops);
    return this;
  }
  i32(v: number): this {
    this.body.u8(OP.i32Const).s32(v | 0);
    return this;
  }
  f32(v: number): this {
    this.body.u8(OP.f32Const).f32(v);
    return this;
  }
  f64(v: number): this {
    this.body.u8(OP.f64Const).f64(v);
    return this;
  }
  get(l: number): this {
    this.body.u8(OP.localGet).u32(l);
    return this;
  }
  set(l: number): this {
    this.body.u8(OP.localSet).u32(l);
    return this;
  }
  tee(l: number): this {
    this.body.u8(OP.localTee).u32(l);
    return this;
  }
  call(f: number): this {
    this.body.u8(OP.call).u32(f);
    return this;
  }

  // --- address arithmetic (i32) ----------------------------------------------------------

  /** `+ c`: adds a constant to the i32 on the stack. */
  addConst(c: number): this {
    return this.i32(c).op(OP.i32Add);
  }
  /** `* c`: multiplies the i32 on the stack by a constant. */
  mulConst(c: number): this {
    return this.i32(c).op(OP.i32Mul);
  }
  /**
   * Pushes `idx * stride (+ base)`: the address of element `idx` of an array of `stride`-byte
   * elements at constant `base` (no add when `base` is undefined).
   */
  index(idx: number, stride: number, base?: number): this {
    this.get(idx).mulConst(stride);
    return base === undefined ? this : this.addConst(base);
  }
  /** `l += c` on an i32 local. */
  inc(l: number, c: number): this {
    return this.get(l).addConst(c).set(l);
  }
  /** `l += d` on i32 locals. */
  incBy(l: number, d: number): this {
    return this.get(l).get(d).op(OP.i32Add).set(l);
  }

  // --- memory ------------------------------------------------------------------------------

  /** Memory access: opcode, log2 alignment, constant byte offset (address on the stack). */
  mem(opcode: number, align: number, offset: number): this {
    this.body.u8(opcode).u32(align).u32(offset);
    return this;
  }
  i32Load(offset = 0): this {
    return this.mem(OP.i32Load, 2, offset);
  }
  i32Store(offset = 0): this {
    return this.mem(OP.i32Store, 2, offset);
  }
  f32Load(offset = 0): this {
    return this.mem(OP.f32Load, 2, offset);
  }
  f32Store(offset = 0): this {
    return this.mem(OP.f32Store, 2, offset);
  }
  /** A SIMD op (0xfd prefix, LEB128 sub-opcode from {@link SIMD}). */
  simd(opcode: number): this {
    this.body.u8(OP.prefixSIMD).u32(opcode);
    return this;
  }
  /** A SIMD memory op with its memarg. */
  simdMem(opcode: number, align: number, offset: number): this {
    this.simd(opcode).body.u32(align).u32(offset);
    return this;
  }
  /** v128.load (16-byte aligned) at the address on the stack + `offset`. */
  v128Load(offset = 0): this {
    return this.simdMem(SIMD.v128Load, 4, offset);
  }
  /** v128.store (16-byte aligned) of [address, value] at address + `offset`. */
  v128Store(offset = 0): this {
    return this.simdMem(SIMD.v128Store, 4, offset);
  }
  /** v128.load at local `ptr` + `offset`. */
  v128LoadFrom(ptr: number, offset = 0): this {
    return this.get(ptr).v128Load(offset);
  }
  /** v128.store of local `v` at local `ptr` + `offset`. */
  v128StoreTo(ptr: number, offset: number, v: number): this {
    return this.get(ptr).get(v).v128Store(offset);
  }
  /** v128.load32_splat: one f32 (or i32) at the address + `offset`, in all four lanes. */
  splatLoad(offset = 0): this {
    return this.simdMem(SIMD.v128Load32Splat, 2, offset);
  }
  /** v128.load64_zero: 8 bytes at the address + `offset` into the low half, the high half 0. */
  v128Load64Zero(offset = 0): this {
    return this.simdMem(SIMD.v128Load64Zero, 3, offset);
  }
  /** v128.store64_lane of [address, value]: 64-bit lane `lane` (0 or 1) at address + `offset`. */
  v128Store64Lane(lane: number, offset = 0): this {
    if (lane !== 0 && lane !== 1) {
      throw new Error(`v128.store64_lane needs lane 0 or 1, got ${lane}`);
    }
    this.simdMem(SIMD.v128Store64Lane, 3, offset).body.u8(lane);
    return this;
  }

  // --- SIMD with immediates ----------------------------------------------------------------

  /** v128.const with four equal f32 lanes. */
  f32x4Const(v: number): this {
    this.simd(SIMD.v128Const);
    for (let i = 0; i < 4; i++) this.body.f32(v);
    return this;
  }
  /** v128.const with four i32 lanes. */
  i32x4Const(lanes: readonly number[]): this {
    if (lanes.length !== 4) throw new Error(`i32x4 constant needs 4 lanes, got ${lanes.length}`);
    this.simd(SIMD.v128Const);
    for (const l of lanes) this.body.i32le(l);
    return this;
  }
  /** f32x4.extract_lane `lane`. */
  f32x4ExtractLane(lane: number): this {
    this.simd(SIMD.f32x4ExtractLane).body.u8(lane);
    return this;
  }
  /** i8x16.shuffle of the two vectors on the stack: 16 byte indices into their 32 bytes. */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !(l >= 0 && l < 32))) {
      throw new Error(`i8x16.shuffle needs 16 lane indices in 0..31, got ${lanes.join(",")}`);
    }
    this.simd(SIMD.i8x16Shuffle).body.u8(...lanes);
    return this;
  }

  // --- bulk memory -------------------------------------------------------------------------

  /** memory.copy (bulk memory): [dst, src, n] -> []. */
  memoryCopy(): this {
    this.body.u8(OP.prefixFC).u32(BULK.memoryCopy).u8(0, 0); // destination and source memory 0
    return this;
  }
  /** i32.trunc_sat_f32_s: f32 -> i32 rounded toward zero, clamped, NaN -> 0 (never traps). */
  i32TruncSatF32S(): this {
    this.body.u8(OP.prefixFC).u32(BULK.i32TruncSatF32S);
    return this;
  }
  /** memory.fill: [dst, byte, n] -> []. */
  memoryFill(): this {
    this.body.u8(OP.prefixFC).u32(BULK.memoryFill).u8(0); // memory 0
    return this;
  }

  // --- control -----------------------------------------------------------------------------

  /** `block ... end` around `inner`. */
  block(inner: () => void): this {
    return this.structured(OP.block, inner);
  }
  /** `loop ... end` around `inner` (br 0 inside continues the loop). */
  loop(inner: () => void): this {
    return this.structured(OP.loop, inner);
  }
  /** `if ... end` (condition already on the stack). */
  if(inner: () => void): this {
    return this.structured(OP.if, inner);
  }
  brIf(depth: number): this {
    this.body.u8(OP.brIf).u32(depth);
    return this;
  }
  br(depth: number): this {
    this.body.u8(OP.br).u32(depth);
    return this;
  }
  /**
   * `for (c = start; c < end; c += step) inner()` as a do-while loop (requires start < end).
   * Inside `inner`, the loop is branch depth 0.
   */
  for(c: number, start: number, end: number, step: number, inner: () => void): this {
    if (!(start < end)) throw new Error(`empty loop ${start}..${end}`);
    this.i32(start).set(c);
    this.loop(() => {
      inner();
      this.get(c).addConst(step).tee(c).i32(end).op(OP.i32LtS).brIf(0);
    });
    return this;
  }
  private structured(opcode: number, inner: () => void): this {
    this.body.u8(opcode, TYPE.emptyBlock);
    inner();
    this.body.u8(OP.end);
    return this;
  }

  /** The encoded body (size, locals, code, end). */
  encode(): Uint8Array {
    const out = new Bytes();
    // Run-length groups of equal local types.
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    out.vec(groups, ([n, t]) => out.u32(n).u8(t));
    out.bytes(this.body).u8(OP.end);
    return new Bytes().u32(out.length).bytes(out).toUint8Array();
  }
}

/** Memory limits in 64 KiB pages. */
export interface Limits {
  readonly min: number;
  /** The maximum; required when `shared`. */
  readonly max?: number;
  /** A shared memory (threads): the memory must be shared, with these exact limits. */
  readonly shared?: boolean;
}

/**
 * A module, section by section: custom sections, function types, imports (functions,
 * memories), functions, memories, exports, code, data (active segments written into memory 0 at
 * instantiation). Indices are handed out as entries are added (imported functions come before
 * defined ones in the function index space, so import functions first).
 */
export class ModuleBuilder {
  private readonly types: Bytes[] = [];
  private readonly imports: Bytes[] = [];
  private readonly functions: { type: number; fn: Fn }[] = [];
  private readonly memories: Limits[] = [];
  private readonly exports: Bytes[] = [];
  private readonly data: Bytes[] = [];
  private readonly custom: Bytes[] = [];
  private importedFunctions = 0;

  /** Adds a function type (no deduplication); returns its index. */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const t = new Bytes().u8(TYPE.func);
    t.vec(params, (p) => t.u8(p)).vec(results, (r) => t.u8(r));
    return this.types.push(t) - 1;
  }
  /** Imports a function of type `type`; returns its function index. */
  importFunction(module: string, name: string, type: number): number {
    if (this.functions.length > 0) throw new Error("import functions before defining any");
    this.imports.push(new Bytes().name(module).name(name).u8(EXTERN.func).u32(type));
    return this.importedFunctions++;
  }
  /** Imports a memory. */
  importMemory(module: string, name: string, limits: Limits): void {
    this.imports.push(limitsOf(new Bytes().name(module).name(name).u8(EXTERN.memory), limits));
  }
  /** Defines a function with its own new type; returns its function index. */
  function(fn: Fn): number {
    const type = this.type(fn.params, fn.results);
    this.functions.push({ type, fn });
    return this.importedFunctions + this.functions.length - 1;
  }
  /** Defines a memory; returns its index. */
  memory(limits: Limits): number {
    return this.memories.push(limits) - 1;
  }
  exportFunction(name: string, index: number): void {
    this.exports.push(new Bytes().name(name).u8(EXTERN.func).u32(index));
  }
  exportMemory(name: string, index: number): void {
    this.exports.push(new Bytes().name(name).u8(EXTERN.memory).u32(index));
  }
  /**
   * An active data segment: `bytes` are copied into memory 0 at byte `offset` when the module is
   * instantiated (instantiation fails if they do not fit).
   */
  dataSegment(offset: number, bytes: Uint8Array): void {
    if (!Number.isInteger(offset) || offset < 0 || offset > 0x7fffffff) {
      throw new RangeError(`data segment offset ${offset} is not an i32 address`);
    }
    // The offset is a constant expression: i32.const offset; end. i32.const takes a signed LEB128.
    this.data.push(
      new Bytes().u8(DATA_ACTIVE_MEMORY0, OP.i32Const).s32(offset).u8(OP.end).u32(bytes.length)
        .bytes(bytes),
    );
  }

  /**
   * A custom section (ignored by engines, readable with `WebAssembly.Module.customSections`);
   * written before the other sections.
   */
  customSection(name: string, bytes: Uint8Array): void {
    this.custom.push(new Bytes().name(name).bytes(bytes));
  }

  /** The `.wasm` bytes; sections without entries are left out. */
  encode(): Uint8Array<ArrayBuffer> {
    const out = new Bytes().u8(...PREAMBLE);
    const section = (id: number, items: readonly Bytes[]) => {
      if (items.length === 0) return;
      const content = new Bytes();
      content.vec(items, (b) => content.bytes(b));
      out.u8(id).u32(content.length).bytes(content);
    };
    // A custom section is one named payload per section (no vector of entries).
    for (const c of this.custom) out.u8(SECTION.custom).u32(c.length).bytes(c);
    section(SECTION.type, this.types);
    section(SECTION.import, this.imports);
    section(SECTION.function, this.functions.map((f) => new Bytes().u32(f.type)));
    section(SECTION.memory, this.memories.map((l) => limitsOf(new Bytes(), l)));
    section(SECTION.export, this.exports);
    section(SECTION.code, this.functions.map((f) => new Bytes().bytes(f.fn.encode())));
    section(SECTION.data, this.data);
    return out.toUint8Array();
  }
}

function limitsOf(out: Bytes, l: Limits): Bytes {
  if (l.shared) {
    if (l.max === undefined) throw new Error("a shared memory needs a maximum");
    return out.u8(LIMITS.sharedMinMax).u32(l.min).u32(l.max);
  }
  return l.max === undefined
    ? out.u8(LIMITS.min).u32(l.min)
    : out.u8(LIMITS.minMax).u32(l.min).u32(l.max);
}

/** The compiler's module: one exported memory, imported f64 functions, exported functions. */
export interface ModuleSpec {
  /** Imported functions `(f64) -> f64`, as [module, name]. */
  readonly imports: readonly (readonly [string, string])[];
  readonly functions: readonly { readonly name: string; readonly fn: Fn }[];
  /** Memory size in 64 KiB pages (fixed: min = max). */
  readonly pages: number;
  /**
   * Import the memory as `m.memory` (one a {@link encodeMemoryModule} module made, with the
   * weights in it) instead of defining it; it is exported as `memory` either way.
   */
  readonly importMemory?: boolean;
}

/**
 * Encodes a compiler module. Type 0 is `(f64) -> f64` for the imports; each function gets its
 * own type; the memory is exported as `memory`.
 *
 * @param spec the module
 * @returns the `.wasm` bytes
 */
export function encodeModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder();
  const unary = m.type([F64], [F64]);
  for (const [module, name] of spec.imports) m.importFunction(module, name, unary);
  const limits = { min: spec.pages, max: spec.pages };
  const indices = spec.functions.map(({ fn }) => m.function(fn));
  // An imported memory takes index 0 of the memory index space, as a defined one would.
  if (spec.importMemory) m.importMemory("m", "memory", limits);
  else m.memory(limits);
  m.exportMemory("memory", 0);
  spec.functions.forEach(({ name }, i) => m.exportFunction(name, indices[i]!));
  return m.encode();
}

/**
 * Encodes a module with no code: a memory of `pages` pages (fixed size), exported as `memory`,
 * with `bytes` written at byte `offset` when it is instantiated. `--split` modules ship their
 * weights this way: the file compiles in a streaming pass (nothing in it to compile) and
 * instantiating it lays the weights into a fresh memory that the kernels then import.
 *
 * @param pages memory size in 64 KiB pages
 * @param offset byte address of the data
 * @param bytes the data
 * @param custom custom sections to add, by name
 * @returns the `.wasm` bytes
 * @example
 * ```ts
 * import { encodeMemoryModule } from "./assembler.ts";
 * const { instance } = await WebAssembly.instantiate(encodeMemoryModule(1, 16, new Uint8Array([7])));
 * new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer)[16]; // 7
 * ```
 */
export function encodeMemoryModule(
  pages: number,
  offset: number,
  bytes: Uint8Array,
  custom: Readonly<Record<string, Uint8Array>> = {},
): Uint8Array<ArrayBuffer> {
  if (offset + bytes.length > pages * 65536) {
    throw new RangeError(`${bytes.length} bytes at ${offset} do not fit in ${pages} pages`);
  }
  const m = new ModuleBuilder();
  for (const [name, payload] of Object.entries(custom)) m.customSection(name, payload);
  m.exportMemory("memory", m.memory({ min: pages, max: pages }));
  m.dataSegment(offset, bytes);
  return m.encode();
}
