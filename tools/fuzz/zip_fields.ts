/**
 * Field maps for state dict seeds (the ZIP records and the opcode arguments of the stored
 * `data.pkl`), and a CRC repair so that mutations inside entries reach the unpickler and the
 * tensor reader instead of always stopping at the CRC check.
 *
 * @module
 */
import { crc32 } from "../../convert/zip.ts";
import type { Field } from "./types.ts";

const SIG_EOCD = 0x06054b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

interface CentralRecord {
  at: number;
  method: number;
  compressedSize: number;
  nameLength: number;
  localOffset: number;
}

/** Central directory records found without trusting anything (out-of-range ones are skipped). */
function centralRecords(bytes: Uint8Array): CentralRecord[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= 0 && p >= bytes.length - 22 - 0xffff; p--) {
    if (dv.getUint32(p, true) === SIG_EOCD) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) return [];
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out: CentralRecord[] = [];
  for (let i = 0; i < count && p + 46 <= bytes.length; i++) {
    if (dv.getUint32(p, true) !== SIG_CENTRAL) break;
    const nameLength = dv.getUint16(p + 28, true);
    out.push({
      at: p,
      method: dv.getUint16(p + 10, true),
      compressedSize: dv.getUint32(p + 20, true),
      nameLength,
      localOffset: dv.getUint32(p + 42, true),
    });
    p += 46 + nameLength + dv.getUint16(p + 30, true) + dv.getUint16(p + 32, true);
  }
  return out;
}

/**
 * Rewrites the CRC-32 of every stored entry whose records are in range, in both its central
 * and local header, so a mutated entry passes the CRC check. Works in place on `bytes`.
 *
 * @param bytes a (mutated) ZIP archive
 */
export function repairZipCrcs(bytes: Uint8Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const c of centralRecords(bytes)) {
    const l = c.localOffset;
    if (c.method !== 0 || l + 30 > bytes.length || dv.getUint32(l, true) !== SIG_LOCAL) continue;
    const start = l + 30 + dv.getUint16(l + 26, true) + dv.getUint16(l + 28, true);
    if (start + c.compressedSize > bytes.length) continue;
    const crc = crc32(bytes.subarray(start, start + c.compressedSize));
    dv.setUint32(c.at + 16, crc, true);
    dv.setUint32(l + 14, crc, true);
  }
}

/**
 * The fields of a valid ZIP archive: EOCD counts, sizes and offset; each central record's
 * method, sizes, name/extra/comment lengths and local header offset; each local header's.
 *
 * @param bytes a valid archive
 * @returns the field map
 */
export function zipFields(bytes: Uint8Array): Field[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  const f = (at: number, width: 2 | 4, kind: Field["kind"], name: string) =>
    fields.push({ at, width, kind, name });
  const eocd = bytes.length - 22;
  if (dv.getUint32(eocd, true) !== SIG_EOCD) throw new RangeError("Seed ZIP has a comment");
  f(eocd + 8, 2, "count", "entries on this disk");
  f(eocd + 10, 2, "count", "entry count");
  f(eocd + 12, 4, "size", "central directory size");
  f(eocd + 16, 4, "offset", "central directory offset");
  f(eocd + 20, 2, "length", "comment length");
  for (const c of centralRecords(bytes)) {
    f(c.at + 10, 2, "type", "central method");
    f(c.at + 20, 4, "size", "central compressed size");
    f(c.at + 24, 4, "size", "central size");
    f(c.at + 28, 2, "length", "central name length");
    f(c.at + 30, 2, "length", "central extra length");
    f(c.at + 42, 4, "offset", "local header offset");
    const l = c.localOffset;
    f(l + 8, 2, "type", "local method");
    f(l + 18, 4, "size", "local compressed size");
    f(l + 22, 4, "size", "local size");
    f(l + 26, 2, "length", "local name length");
    f(l + 28, 2, "length", "local extra length");
  }
  return fields;
}

/**
 * The integer arguments of a pickle stream's opcodes (ints, string lengths, memo indices),
 * offset by `base` (where the stream starts in the archive). Stops at the first opcode it
 * does not know.
 *
 * @param pkl the pickle stream
 * @param base its offset in the file
 * @returns the field map
 */
export function pickleFields(pkl: Uint8Array, base: number): Field[] {
  const dv = new DataView(pkl.buffer, pkl.byteOffset, pkl.byteLength);
  const fields: Field[] = [];
  let p = 0;
  while (p < pkl.length) {
    const op = pkl[p]!;
    const at = base + p + 1;
    p++;
    switch (op) {
      case 0x80: // PROTO
        fields.push({ at, width: 1, kind: "version", name: "pickle protocol" });
        p += 1;
        break;
      case 0x4a: // BININT
        fields.push({ at, width: 4, kind: "int", name: "BININT" });
        p += 4;
        break;
      case 0x4d: // BININT2
        fields.push({ at, width: 2, kind: "int", name: "BININT2" });
        p += 2;
        break;
      case 0x4b: // BININT1
      case 0x71: // BINPUT
      case 0x68: // BINGET
        fields.push({ at, width: 1, kind: "int", name: `opcode 0x${op.toString(16)} argument` });
        p += 1;
        break;
      case 0x58: // BINUNICODE
        fields.push({ at, width: 4, kind: "length", name: "BINUNICODE length" });
        p += 4 + dv.getUint32(p, true);
        break;
      case 0x8c: // SHORT_BINUNICODE
        fields.push({ at, width: 1, kind: "length", name: "SHORT_BINUNICODE length" });
        p += 1 + pkl[p]!;
        break;
      case 0x63: // GLOBAL: two lines
        for (let lines = 0; lines < 2 && p < pkl.length; p++) if (pkl[p] === 0x0a) lines++;
        break;
      case 0x28: // MARK
      case 0x29: // EMPTY_TUPLE
      case 0x52: // REDUCE
      case 0x74: // TUPLE
      case 0x51: // BINPERSID
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: // TUPLE3
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
      case 0x75: // SETITEMS
      case 0x7d: // EMPTY_DICT
      case 0x73: // SETITEM
      case 0x62: // BUILD
      case 0x4e: // NONE
      case 0x2e: // STOP
        break;
      default:
        return fields;
    }
  }
  return fields;
}
