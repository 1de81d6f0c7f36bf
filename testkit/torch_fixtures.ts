/**
 * Test helpers: hand-built ZIP archives and pickle streams, byte by byte, so the state dict
 * reader is tested on inputs whose every byte the test controls (no Python needed).
 *
 * @module
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../convert/zip.ts";

const enc = new TextEncoder();

/** One file for {@link buildZip}. */
export interface ZipFile {
  name: string;
  data: Uint8Array;
  /** Deflate it (method 8) instead of storing it. */
  deflate?: boolean;
}

/** A classic ZIP archive holding `files`, as torch writes it (no data descriptors). */
export function buildZip(files: ZipFile[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const body = f.deflate ? new Uint8Array(deflateRawSync(f.data)) : f.data;
    const crc = crc32(f.data);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, f.deflate ? 8 : 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, f.deflate ? 8 : 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    central.push(c);
    parts.push(local, body);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...parts, ...central, eocd]);
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Emits pickle opcodes one call at a time. */
export class PickleBuilder {
  private bytes: number[] = [];
  /** Raw bytes. */
  raw(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  proto(v = 2): this {
    return this.raw(0x80, v);
  }
  /** BINUNICODE */
  str(s: string): this {
    const b = enc.encode(s);
    return this.raw(0x58, ...u32(b.length), ...b);
  }
  /** SHORT_BINUNICODE */
  shortStr(s: string): this {
    const b = enc.encode(s);
    return this.raw(0x8c, b.length, ...b);
  }
  /** GLOBAL module\nname\n */
  global(module: string, name: string): this {
    return this.raw(0x63, ...enc.encode(`${module}\n${name}\n`));
  }
  /** The smallest int opcode for `v` (BININT1, BININT2 or BININT). */
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v & 0xff, v >> 8);
    return this.raw(0x4a, ...u32(v >>> 0));
  }
  put(i: number): this {
    return this.raw(0x71, i);
  }
  get(i: number): this {
    return this.raw(0x68, i);
  }
  mark(): this {
    return this.raw(0x28);
  }
  /** TUPLE of the ints, with the opcodes pickle uses for each length. */
  intTuple(xs: number[]): this {
    if (xs.length === 0) return this.raw(0x29);
    if (xs.length <= 3) {
      for (const x of xs) this.int(x);
      return this.raw(0x84 + xs.length);
    }
    this.mark();
    for (const x of xs) this.int(x);
    return this.raw(0x74);
  }
  stop(): Uint8Array {
    this.raw(0x2e);
    return new Uint8Array(this.bytes);
  }
}

function u32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

/** One tensor for {@link stateDictPickle}. */
export interface FakeTensor {
  name: string;
  /** Storage entry name, e.g. "0". */
  key: string;
  storageClass?: string;
  /** Elements in the storage, as the persistent id states it. */
  numel: number;
  offset?: number;
  /** PyTorch order. */
  shape: number[];
  /** Default: contiguous. */
  stride?: number[];
}

/** A state dict pickle the way torch.save (protocol 2) writes one. */
export function stateDictPickle(tensors: FakeTensor[]): Uint8Array {
  const p = new PickleBuilder().proto(2)
    .global("collections", "OrderedDict").put(0).raw(0x29, 0x52).put(1).mark();
  // Memo: 0 = OrderedDict, 1 = the dict, 2 = _rebuild_tensor_v2, 3.. = the names.
  tensors.forEach((t, i) => {
    p.str(t.name).put(3 + i);
    if (i === 0) p.global("torch._utils", "_rebuild_tensor_v2").put(2);
    else p.get(2);
    p.mark().mark().str("storage").global("torch", t.storageClass ?? "FloatStorage")
      .str(t.key).str("cpu").int(t.numel).raw(0x74).raw(0x51);
    p.int(t.offset ?? 0).intTuple(t.shape).intTuple(t.stride ?? contiguous(t.shape));
    p.raw(0x89).get(0).raw(0x29, 0x52).raw(0x74).raw(0x52);
  });
  return p.raw(0x75).stop();
}

/** Row-major strides of `shape` (PyTorch order). */
export function contiguous(shape: number[]): number[] {
  const s: number[] = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Little-endian float32 bytes of `values`. */
export function f32Bytes(values: number[] | Float32Array): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return b;
}

/** A whole state dict file: `archive/data.pkl`, `archive/data/<key>`, `archive/version`. */
export function stateDictZip(
  tensors: FakeTensor[],
  storages: Record<string, Uint8Array>,
  archive = "model",
): Uint8Array {
  return buildZip([
    { name: `${archive}/data.pkl`, data: stateDictPickle(tensors) },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${archive}/data/${k}`, data })),
    { name: `${archive}/version`, data: enc.encode("3\n") },
  ]);
}
