/**
 * Mutators: each takes a copy of a seed's bytes and a seeded random source and returns the
 * mutated bytes. Byte flips, byte sets, truncations, splices, inserts, deletes, and
 * field-targeted writes of extreme or related values into counts, lengths, offsets, types,
 * n_dims, dims and the alignment.
 *
 * @module
 */
import type { Field, Seed } from "./types.ts";

/** A random source: floats in [0, 1). */
export type Rand = () => number;

/** An integer in [0, n). */
export function below(r: Rand, n: number): number {
  return Math.floor(r() * n);
}

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[below(r, xs.length)]!;
}

const TWO_32 = 2n ** 32n;
/** Size extremes every field kind gets (written modulo its width). */
const EXTREMES: readonly bigint[] = [
  0n,
  1n,
  2n ** 31n - 1n,
  2n ** 31n,
  TWO_32 - 1n,
  TWO_32,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 63n,
  -1n,
];

/** Values that mean something for each kind, beyond the extremes. */
function kindValues(f: Field, old: bigint, r: Rand): bigint[] {
  switch (f.kind) {
    case "type":
      return [BigInt(below(r, 40)), 12n, 13n, 31n, 39n, old + 1n];
    case "n_dims":
      return [0n, 2n, 3n, 4n, 5n, 8n];
    case "alignment":
      return [0n, 1n, 3n, 8n, 64n, 4096n, 2n ** 31n];
    case "version":
      return [0n, 1n, 2n, 3n, 4n, 0x03000000n];
    case "dim":
      return [0n, 1n, 28n, 784n, old * 2n, old * 1000n, BigInt(below(r, 64))];
    default:
      return [old * 2n, old + BigInt(below(r, 256)), BigInt(below(r, 2 ** 16))];
  }
}

function readField(bytes: Uint8Array, f: Field): bigint {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !f.be;
  switch (f.width) {
    case 1:
      return BigInt(dv.getUint8(f.at));
    case 2:
      return BigInt(dv.getUint16(f.at, le));
    case 4:
      return BigInt(dv.getUint32(f.at, le));
    case 8:
      return dv.getBigUint64(f.at, le);
  }
}

function writeField(bytes: Uint8Array, f: Field, v: bigint): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !f.be;
  const x = BigInt.asUintN(f.width * 8, v);
  switch (f.width) {
    case 1:
      return dv.setUint8(f.at, Number(x));
    case 2:
      return dv.setUint16(f.at, Number(x), le);
    case 4:
      return dv.setUint32(f.at, Number(x), le);
    case 8:
      return dv.setBigUint64(f.at, x, le);
  }
}

/** Flips 1 to 4 random bits. */
function flipBits(b: Uint8Array, r: Rand): Uint8Array {
  for (let k = 1 + below(r, 4); k > 0 && b.length > 0; k--) {
    b[below(r, b.length)]! ^= 1 << below(r, 8);
  }
  return b;
}

/** Sets 1 to 4 random bytes to interesting values. */
function setBytes(b: Uint8Array, r: Rand): Uint8Array {
  for (let k = 1 + below(r, 4); k > 0 && b.length > 0; k--) {
    b[below(r, b.length)] = pick(r, [0, 1, 0x7f, 0x80, 0xff, below(r, 256)]);
  }
  return b;
}

/** Cuts the file, most often inside the header (where the fields are). */
function truncate(b: Uint8Array, r: Rand, fields: readonly Field[]): Uint8Array {
  const headerEnd = fields.length ? fields[fields.length - 1]!.at + 8 : 64;
  const end = r() < 0.6 ? below(r, Math.min(b.length, headerEnd + 1)) : below(r, b.length);
  return b.subarray(0, end);
}

/** Copies a range from elsewhere in the file (or another seed) over a random position. */
function splice(b: Uint8Array, r: Rand, donor: Uint8Array): Uint8Array {
  if (b.length === 0 || donor.length === 0) return b;
  const n = 1 + below(r, Math.min(64, donor.length));
  const from = below(r, donor.length - n + 1);
  const to = below(r, b.length);
  const piece = donor.slice(from, from + n);
  b.set(piece.subarray(0, Math.min(n, b.length - to)), to);
  return b;
}

/** Inserts 1 to 16 random bytes, or a copy of a range, at a random position. */
function insert(b: Uint8Array, r: Rand): Uint8Array {
  const at = below(r, b.length + 1);
  const n = 1 + below(r, 16);
  const piece = r() < 0.5 || b.length === 0
    ? Uint8Array.from({ length: n }, () => below(r, 256))
    : b.slice(below(r, b.length), Math.min(b.length, below(r, b.length) + n));
  const out = new Uint8Array(b.length + piece.length);
  out.set(b.subarray(0, at));
  out.set(piece, at);
  out.set(b.subarray(at), at + piece.length);
  return out;
}

/** Deletes 1 to 16 bytes at a random position. */
function remove(b: Uint8Array, r: Rand): Uint8Array {
  if (b.length === 0) return b;
  const at = below(r, b.length);
  const n = 1 + below(r, 16);
  const out = new Uint8Array(Math.max(at, b.length - n));
  out.set(b.subarray(0, at));
  out.set(b.subarray(Math.min(b.length, at + n)), at);
  return out;
}

/** Writes an extreme or kind-specific value into a random field of the seed's map. */
function editField(b: Uint8Array, r: Rand, fields: readonly Field[]): Uint8Array {
  if (fields.length === 0) return flipBits(b, r);
  const f = pick(r, fields);
  if (f.at + f.width > b.length) return b;
  const old = readField(b, f);
  const same = fields.filter((g) => g.kind === f.kind && g.at + g.width <= b.length);
  const choices = r() < 0.4 ? EXTREMES : kindValues(f, old, r);
  let v = pick(r, choices);
  if (r() < 0.1 && same.length > 1) v = readField(b, pick(r, same)); // another field's value
  if (r() < 0.1) v = old + pick(r, [-1n, 1n]);
  writeField(b, f, v);
  return b;
}

/**
 * Appends 16 KiB to 512 KiB (zeros, or copies of one slice of the file) and sets a count,
 * length or dim to what that tail could hold: large counts that pass the bytes-left checks,
 * to measure the work and memory per byte of a big hostile header.
 */
function grow(b: Uint8Array, r: Rand, fields: readonly Field[]): Uint8Array {
  const extra = 2 ** (14 + below(r, 6));
  const out = new Uint8Array(b.length + extra);
  out.set(b);
  if (r() < 0.5 && b.length > 0) {
    const from = below(r, b.length);
    const piece = b.subarray(from, Math.min(b.length, from + 1 + below(r, 64)));
    for (let p = b.length; p < out.length; p += piece.length) {
      out.set(piece.subarray(0, out.length - p), p);
    }
  }
  const sized = fields.filter((f) =>
    (f.kind === "count" || f.kind === "length" || f.kind === "dim") && f.at + f.width <= b.length
  );
  const counts = sized.filter((f) => f.kind === "count");
  const target = counts.length > 0 && r() < 0.7
    ? pick(r, counts)
    : sized.length > 0
    ? pick(r, sized)
    : undefined;
  if (target) {
    writeField(out, target, BigInt(Math.floor(extra / pick(r, [1, 2, 4, 8, 12, 13, 32]))));
  }
  return out;
}

/** The names of the mutators, for statistics. */
export const MUTATORS = [
  "flip",
  "set",
  "truncate",
  "splice",
  "insert",
  "delete",
  "field",
  "grow",
] as const;

/**
 * Applies 1 to 4 random mutations (field edits most often) to a copy of `seed`.
 *
 * @param seed the seed file and its field map
 * @param r the case's random source
 * @param donors other seeds of the format, for splices
 * @returns the mutated bytes (a fresh array)
 */
export function mutate(seed: Seed, r: Rand, donors: readonly Seed[]): Uint8Array {
  let b: Uint8Array = seed.bytes.slice();
  const rounds = r() < 0.6 ? 1 : 2 + below(r, 3);
  if (r() < 0.03) b = grow(b, r, seed.fields);
  for (let i = 0; i < rounds; i++) {
    const x = r();
    if (x < 0.35) b = editField(b, r, seed.fields);
    else if (x < 0.5) b = flipBits(b, r);
    else if (x < 0.6) b = setBytes(b, r);
    else if (x < 0.72) b = truncate(b, r, seed.fields);
    else if (x < 0.84) b = splice(b, r, r() < 0.5 ? b.slice() : pick(r, donors).bytes);
    else if (x < 0.92) b = insert(b, r);
    else b = remove(b, r);
  }
  return b.slice();
}
