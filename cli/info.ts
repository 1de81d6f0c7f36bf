/**
 * `ggufc info MODEL`: what a model file holds, like ggml's gguf dump: version, alignment, every
 * key/value and every tensor (name, type, ne, offset, bytes). Also reads the seed's legacy
 * ggml file. `--json` prints the same as JSON.
 *
 * @module
 */
import { type Command, MODEL_FILE, parseCommandArgs, readInputFile } from "./command.ts";
import { printable, printableJson, UsageError } from "../ggml/errors.ts";
import { type GgufValue, isGguf, readGguf } from "../ggml/gguf_reader.ts";
import { isLegacyGgml, readLegacyGgml } from "../ggml/legacy.ts";
import { ggmlTypeName } from "../ggml/ggml_types.ts";
import { ByteReader } from "../ggml/byte_reader.ts";

const help = `usage: ggufc info MODEL [--json] [--all]

Prints what MODEL (a GGUF file, v1 to v3, or the seed's legacy ggml file) holds: format
version, alignment, every metadata key with its type and value, and every tensor with its
type, dims in ggml ne order (ne[0] fastest), offset in the data section and size in bytes.

options:
  --json   machine-readable output (64-bit integers as strings)
  --all    print arrays whole (default: the first ${16} items and a count)`;

/** Arrays longer than this are shortened unless --all. */
const ARRAY_PREVIEW = 16;

/** One tensor as info prints it. */
export interface InfoTensor {
  name: string;
  type: string;
  ne: number[];
  /** Offset in the data section (GGUF) or in the file (legacy). */
  offset: number;
  bytes: number;
}

/** What info prints, as a plain object (the --json output). */
export interface ModelInfo {
  file: string;
  format: "gguf" | "legacy-ggml";
  version?: number;
  alignment?: number;
  dataOffset?: number;
  metadata: { key: string; type: string; value: unknown; count?: number }[];
  tensors: InfoTensor[];
}

function typeLabel(v: GgufValue): string {
  return v.type === "array" ? `array<${v.itemType}>` : v.type;
}

/** A metadata value as JSON-friendly data, arrays shortened to `limit` items. */
function plainValue(v: GgufValue, limit: number): unknown {
  if (v.type === "array") return v.value.slice(0, limit).map((x) => plainValue(x, limit));
  if (typeof v.value === "bigint") return v.value.toString();
  return v.value;
}

function textValue(v: GgufValue, limit: number): string {
  if (v.type === "array") {
    const shown = v.value.slice(0, limit).map((x) => textValue(x, limit));
    const more = v.value.length > limit ? `, ... (${v.value.length} items)` : "";
    return `[${shown.join(", ")}${more}]`;
  }
  if (v.type === "string") return printable(JSON.stringify(v.value));
  return String(v.value);
}

/**
 * Describes a model file.
 *
 * @param bytes the file
 * @param file its name, for errors and the output
 * @param all print arrays whole
 * @returns the description
 * @throws {FormatError} when the file is neither GGUF nor legacy ggml, or is malformed
 */
export function modelInfo(bytes: Uint8Array, file: string, all = false): ModelInfo {
  const limit = all ? Infinity : ARRAY_PREVIEW;
  if (isGguf(bytes)) {
    const f = readGguf(bytes, file);
    return {
      file,
      format: "gguf",
      version: f.version,
      alignment: f.alignment,
      dataOffset: f.dataOffset,
      metadata: [...f.metadata].map(([key, v]) => ({
        key,
        type: typeLabel(v),
        value: plainValue(v, limit),
        ...(v.type === "array" ? { count: v.value.length } : {}),
      })),
      tensors: f.tensors.map((t) => ({
        name: t.name,
        type: ggmlTypeName(t.type),
        ne: t.ne,
        offset: t.offset,
        bytes: t.byteSize,
      })),
    };
  }
  if (isLegacyGgml(bytes)) {
    const tensors = readLegacyGgml(bytes, file);
    let offset = 4;
    return {
      file,
      format: "legacy-ggml",
      metadata: [],
      tensors: tensors.map((t) => {
        offset += 4 + 4 * t.ne.length; // n_dims and dims precede the data
        const info = { name: t.name, type: "f32", ne: t.ne, offset, bytes: 4 * t.data.length };
        offset += info.bytes;
        return info;
      }),
    };
  }
  const r = new ByteReader(bytes, file);
  r.need(4, "magic");
  const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b
    ? " (a ZIP file: a PyTorch state dict? see 'ggufc convert')"
    : "";
  throw r.error("magic", "'GGUF' (47 47 55 46) or legacy ggml (6c 6d 67 67)", found + zip, 0);
}

/** The text report of {@link modelInfo}, re-reading values for readable formatting. */
function textReport(info: ModelInfo, bytes: Uint8Array, all: boolean): string {
  const limit = all ? Infinity : ARRAY_PREVIEW;
  const lines: string[] = [];
  if (info.format === "gguf") {
    const f = readGguf(bytes, info.file);
    lines.push(
      `${printable(info.file)}: GGUF v${f.version}, alignment ${f.alignment}, ` +
        `data at byte ${f.dataOffset}`,
    );
    lines.push(`metadata: ${f.metadata.size} key${f.metadata.size === 1 ? "" : "s"}`);
    // Keys, names and string values come from the file: each is escaped before it is padded.
    const keys = [...f.metadata.keys()].map(printable);
    const width = Math.max(0, ...keys.map((k) => k.length));
    const typeW = Math.max(0, ...[...f.metadata.values()].map((v) => typeLabel(v).length));
    [...f.metadata.values()].forEach((v, i) => {
      lines.push(
        `  ${keys[i]!.padEnd(width)}  ${typeLabel(v).padEnd(typeW)}  ${textValue(v, limit)}`,
      );
    });
  } else {
    lines.push(`${printable(info.file)}: legacy ggml file (seed FC model, float32, no metadata)`);
  }
  const total = info.tensors.reduce((a, t) => a + t.bytes, 0);
  lines.push(`tensors: ${info.tensors.length} (${total} bytes of data)`);
  const names = info.tensors.map((t) => printable(t.name));
  const nameW = Math.max(4, ...names.map((n) => n.length));
  const neW = Math.max(2, ...info.tensors.map((t) => `[${t.ne.join(", ")}]`.length));
  lines.push(
    `  ${"name".padEnd(nameW)}  type  ${"ne".padEnd(neW)}  ${"offset".padStart(10)}  ${
      "bytes".padStart(10)
    }`,
  );
  for (const [i, t] of info.tensors.entries()) {
    lines.push(
      `  ${names[i]!.padEnd(nameW)}  ${t.type.padEnd(4)}  ${`[${t.ne.join(", ")}]`.padEnd(neW)}  ${
        String(t.offset).padStart(10)
      }  ${String(t.bytes).padStart(10)}`,
    );
  }
  return lines.join("\n");
}

export const infoCommand: Command = {
  name: "info",
  summary: "list a model file's metadata and tensors (GGUF or legacy ggml)",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("info", args, {
      json: { type: "boolean" },
      all: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `info takes one MODEL file, got ${positionals.length} (see 'ggufc info --help')`,
      );
    }
    const path = positionals[0]!;
    const bytes = await readInputFile(path, { ...MODEL_FILE, what: "model file" });
    const all = values.all ?? false;
    const info = modelInfo(bytes, path, all);
    console.log(
      values.json ? printableJson(JSON.stringify(info, null, 2)) : textReport(info, bytes, all),
    );
  },
};
