/**
 * A GGUF writer for fuzz seeds, independent of ggufc's own writer: it writes versions 1
 * (u32 counts, lengths and dims), 2 and 3 (u64), and records every count, length, type, dim,
 * offset and the alignment value as a {@link Field}.
 *
 * @module
 */
import { GGUF_VALUE_TYPE_IDS, type GgufValue } from "../../ggml/gguf_reader.ts";
import { type GgmlType, tensorByteSize } from "../../ggml/ggml_types.ts";
import { FieldWriter } from "./field_writer.ts";
import type { Seed } from "./types.ts";

/** A tensor of a seed GGUF. */
export interface SeedTensor {
  name: string;
  /** ggml ne order. */
  ne: number[];
  type: GgmlType;
  data: Uint8Array;
}

const enc = new TextEncoder();

/**
 * Writes a GGUF file of `version` with a field map.
 *
 * @param name the seed's name
 * @param version 1, 2 or 3
 * @param metadata key/value pairs in order (`general.alignment`, if any, sets the alignment)
 * @param tensors tensors in order; data laid out in that order, each padded to the alignment
 * @returns the seed
 */
export function ggufSeed(
  name: string,
  version: 1 | 2 | 3,
  metadata: [string, GgufValue][],
  tensors: SeedTensor[],
): Seed {
  const w = new FieldWriter();
  const len = (v: number, kind: "count" | "length" | "dim", field: string) =>
    version === 1 ? w.u32(v, kind, field) : w.u64(v, kind, field);
  const str = (s: string, field: string) => {
    const b = enc.encode(s);
    len(b.length, "length", `${field} length`);
    w.bytes(b);
  };
  const value = (v: GgufValue, field: string): void => {
    switch (v.type) {
      case "uint8":
      case "int8":
      case "bool":
        w.u8(typeof v.value === "boolean" ? Number(v.value) : v.value & 0xff);
        return;
      case "uint16":
      case "int16":
        w.u16(v.value & 0xffff);
        return;
      case "uint32":
      case "int32":
        w.u32(v.value, field === "'general.alignment'" ? "alignment" : "int", field);
        return;
      case "float32":
        w.f32(v.value);
        return;
      case "float64":
        w.f64(v.value);
        return;
      case "uint64":
      case "int64":
        w.u64(v.value, "int", field);
        return;
      case "string":
        str(v.value, field);
        return;
      case "array":
        w.u32(GGUF_VALUE_TYPE_IDS[v.itemType], "type", `${field} item type`);
        len(v.value.length, "count", `${field} count`);
        v.value.forEach((x, i) => value(x, `${field}[${i}]`));
        return;
    }
  };

  w.bytes(enc.encode("GGUF")).u32(version, "version", "version");
  len(tensors.length, "count", "tensor_count");
  len(metadata.length, "count", "metadata_kv_count");
  let alignment = 32;
  for (const [key, v] of metadata) {
    str(key, `metadata key '${key}'`);
    w.u32(GGUF_VALUE_TYPE_IDS[v.type], "type", `type of '${key}'`);
    value(v, `'${key}'`);
    if (key === "general.alignment" && v.type === "uint32") alignment = v.value;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== tensorByteSize(t.type, t.ne)) {
      throw new RangeError(`Seed tensor '${t.name}' has ${t.data.length} bytes for [${t.ne}]`);
    }
    str(t.name, `tensor '${t.name}' name`);
    w.u32(t.ne.length, "n_dims", `tensor '${t.name}' n_dims`);
    t.ne.forEach((d, i) => len(d, "dim", `tensor '${t.name}' ne[${i}]`));
    w.u32(t.type, "type", `tensor '${t.name}' type`);
    w.u64(offset, "offset", `tensor '${t.name}' offset`);
    offset += Math.ceil(t.data.length / alignment) * alignment;
  }
  w.pad(alignment);
  for (const t of tensors) w.bytes(t.data).pad(alignment);
  return { name, bytes: w.build(), fields: w.fields };
}
