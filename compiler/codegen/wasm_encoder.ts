/**
 * A small typed WebAssembly binary encoder: LEB128, sections, a function-body builder with the
 * opcodes the kernels use (control flow, i32/f32/f64 scalar ops, SIMD128 with the 0xfd prefix,
 * the relaxed-SIMD FMA, bulk memory copy). Written for this project rather than taking `wabt`:
 * the kernels are generated programmatically (no text format needed), the encoder is ~250 lines
 * with no dependency, and every byte it writes is visible here. Opcode numbers are from the
 * WebAssembly core spec 2.0 and the relaxed-SIMD proposal.
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b;
/** A value type byte. */
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

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

  /** A copy of the bytes written. */
  toUint8Array(): Uint8Array<ArrayBuffer> {
    return this.buf.slice(0, this.n);
  }
}

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  load: 0x00,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Min: 0xe8,
  f32x4Max: 0xe9,
  f32x4RelaxedMadd: 0x105,
} as const;

/** Builder of one function body. Locals are declared with {@link Fn.local}. */
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

  /** Raw opcode bytes. */
  op(...b: number[]): this {
    this.body.u8(...b);
    return this;
  }
  i32(v: number): this {
    this.body.u8(0x41).s32(v | 0);
    return this;
  }
  f32(v: number): this {
    this.body.u8(0x43).f32(v);
    return this;
  }
  f64(v: number): this {
    this.body.u8(0x44).f64(v);
    return this;
  }
  get(l: number): this {
    this.body.u8(0x20).u32(l);
    return this;
  }
  set(l: number): this {
    this.body.u8(0x21).u32(l);
    return this;
  }
  tee(l: number): this {
    this.body.u8(0x22).u32(l);
    return this;
  }
  call(f: number): this {
    this.body.u8(0x10).u32(f);
    return this;
  }
  /** Memory access: opcode, log2 alignment, constant byte offset. */
  mem(opcode: number, align: number, offset: number): this {
    this.body.u8(opcode).u32(align).u32(offset);
    return this;
  }
  i32Load(offset = 0): this {
    return this.mem(0x28, 2, offset);
  }
  i32Store(offset = 0): this {
    return this.mem(0x36, 2, offset);
  }
  f32Load(offset = 0): this {
    return this.mem(0x2a, 2, offset);
  }
  f32Store(offset = 0): this {
    return this.mem(0x38, 2, offset);
  }
  /** A SIMD op (0xfd prefix, LEB128 opcode). */
  simd(opcode: number): this {
    this.body.u8(0xfd).u32(opcode);
    return this;
  }
  /** A SIMD memory op with its memarg. */
  simdMem(opcode: number, align: number, offset: number): this {
    this.body.u8(0xfd).u32(opcode).u32(align).u32(offset);
    return this;
  }
  v128Load(offset = 0): this {
    return this.simdMem(SIMD.load, 4, offset);
  }
  v128Store(offset = 0): this {
    return this.simdMem(SIMD.store, 4, offset);
  }
  splatLoad(offset = 0): this {
    return this.simdMem(SIMD.load32Splat, 2, offset);
  }
  /** v128.const with four equal f32 lanes. */
  f32x4Const(v: number): this {
    this.body.u8(0xfd).u32(SIMD.const);
    for (let i = 0; i < 4; i++) this.body.f32(v);
    return this;
  }
  /** memory.copy (bulk memory): [dst, src, n] -> []. */
  memoryCopy(): this {
    this.body.u8(0xfc).u32(10).u8(0, 0);
    return this;
  }
  /** memory.fill: [dst, byte, n] -> []. */
  memoryFill(): this {
    this.body.u8(0xfc).u32(11).u8(0);
    return this;
  }
  /** `block ... end` around `inner`. */
  block(inner: () => void): this {
    this.body.u8(0x02, 0x40);
    inner();
    this.body.u8(0x0b);
    return this;
  }
  /** `loop ... end` around `inner` (br 0 inside continues the loop). */
  loop(inner: () => void): this {
    this.body.u8(0x03, 0x40);
    inner();
    this.body.u8(0x0b);
    return this;
  }
  /** `if ... end` (condition already on the stack). */
  if(inner: () => void): this {
    this.body.u8(0x04, 0x40);
    inner();
    this.body.u8(0x0b);
    return this;
  }
  brIf(depth: number): this {
    this.body.u8(0x0d).u32(depth);
    return this;
  }
  br(depth: number): this {
    this.body.u8(0x0c).u32(depth);
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
      this.get(c).i32(step).op(0x6a).tee(c).i32(end).op(0x48).brIf(0);
    });
    return this;
  }

  /** The encoded body (locals + code + end). */
  encode(): Uint8Array {
    const out = new Bytes();
    // Run-length groups of equal local types.
    const groups: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    out.u32(groups.length);
    for (const [n, t] of groups) out.u32(n).u8(t);
    out.bytes(this.body).u8(0x0b);
    const sized = new Bytes();
    return sized.u32(out.length).bytes(out).toUint8Array();
  }
}

/** i32 ops by name (no immediates). */
export const OP = {
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32LtS: 0x48,
  i32GtS: 0x4a,
  i32LeS: 0x4c,
  i32GeS: 0x4e,
  i32Eqz: 0x45,
  f32Ne: 0x5c,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f32Max: 0x97,
  f64Sub: 0xa1,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
  select: 0x1b,
} as const;

/** A whole module: one memory (exported), imported f64 functions, exported functions. */
export interface ModuleSpec {
  /** Imported functions `(f64) -> f64`, as [module, name]. */
  readonly imports: readonly (readonly [string, string])[];
  readonly functions: readonly { readonly name: string; readonly fn: Fn }[];
  /** Memory size in 64 KiB pages (fixed: min = max). */
  readonly pages: number;
}

function section(out: Bytes, id: number, content: Bytes): void {
  out.u8(id).u32(content.length).bytes(content);
}

/**
 * Encodes a module. Type 0 is `(f64) -> f64` for the imports; each function gets its own type.
 *
 * @param spec the module
 * @returns the `.wasm` bytes
 */
export function encodeModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new Bytes().u8(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
  const types = new Bytes().u32(1 + spec.functions.length);
  types.u8(0x60).u32(1).u8(F64).u32(1).u8(F64);
  for (const { fn } of spec.functions) {
    types.u8(0x60).u32(fn.params.length).u8(...fn.params).u32(fn.results.length).u8(...fn.results);
  }
  section(out, 1, types);
  const imports = new Bytes().u32(spec.imports.length);
  for (const [m, n] of spec.imports) imports.name(m).name(n).u8(0x00).u32(0);
  section(out, 2, imports);
  const funcs = new Bytes().u32(spec.functions.length);
  spec.functions.forEach((_, i) => funcs.u32(1 + i));
  section(out, 3, funcs);
  section(out, 5, new Bytes().u32(1).u8(0x01).u32(spec.pages).u32(spec.pages));
  const exports = new Bytes().u32(spec.functions.length + 1);
  exports.name("memory").u8(0x02).u32(0);
  spec.functions.forEach((f, i) => exports.name(f.name).u8(0x00).u32(spec.imports.length + i));
  section(out, 7, exports);
  const code = new Bytes().u32(spec.functions.length);
  for (const { fn } of spec.functions) code.bytes(fn.encode());
  section(out, 10, code);
  return out.toUint8Array();
}
