/**
 * Crafted GGUF cases beside the random mutations, built from every GGUF seed by walking its
 * field map: each case aims at one structural rule, so every instance of the rule is tried
 * rather than the few a random run happens to hit.
 *
 * - `aliased-offsets`: one tensor's offset set to another tensor's (aliased data), to a point
 *   inside another tensor's data (overlap), or two offsets swapped (out of order). ggml's
 *   loader refuses all of them; so must ours (a FormatError about an offset).
 * - `control-chars`: the first bytes of one string (key, tensor name or string value)
 *   replaced by a character a terminal acts on (NUL, ESC, CR, LF, DEL, a C1 control, U+2028,
 *   U+202E). The file stays valid GGUF; whatever is printed about it must come out escaped.
 *
 * @module
 */
import type { Field, Seed } from "./types.ts";

/** One crafted input. */
export interface CraftedCase {
  readonly family: "aliased-offsets" | "control-chars";
  /** Seed, field and change, e.g. `gguf-v3-ggml-fc: tensor 'fc2.bias' offset = fc1.weight's`. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** The characters the control-chars family writes, one of each kind. */
export const TERMINAL_CHARS: readonly string[] = [
  "\x00",
  "\x1b",
  "\r",
  "\n",
  "\x7f",
  "\x9b",
  "\u2028",
  "\u202e",
];

function read(bytes: Uint8Array, f: Field): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return f.width === 8 ? Number(dv.getBigUint64(f.at, true)) : dv.getUint32(f.at, true);
}

function write64(bytes: Uint8Array, at: number, v: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(at, BigInt(v), true);
}

/** The alignment a seed declares (general.alignment), or GGUF's default 32. */
function alignmentOf(seed: Seed): number {
  const f = seed.fields.find((x) => x.kind === "alignment");
  return f ? read(seed.bytes, f) : 32;
}

/**
 * Every aliased, overlapping and swapped tensor offset of every seed.
 *
 * @param seeds GGUF seeds (seeds.ts)
 * @returns the cases, in a fixed order
 */
export function aliasedOffsetCases(seeds: readonly Seed[]): CraftedCase[] {
  const out: CraftedCase[] = [];
  for (const seed of seeds) {
    const offsets = seed.fields.filter((f) => f.kind === "offset");
    const values = offsets.map((f) => read(seed.bytes, f));
    const align = alignmentOf(seed);
    const tensor = (f: Field) => f.name.replace(/ offset$/, "");
    const add = (what: string, edits: [Field, number][]) => {
      const bytes = seed.bytes.slice();
      for (const [f, v] of edits) write64(bytes, f.at, v);
      out.push({ family: "aliased-offsets", name: `${seed.name}: ${what}`, bytes });
    };
    for (let i = 0; i < offsets.length; i++) {
      // The end of tensor i's padded data: the next offset, for all but the last tensor.
      const end = values.filter((v) => v > values[i]!).sort((a, b) => a - b)[0];
      for (let j = 0; j < offsets.length; j++) {
        if (i === j) continue;
        add(`${tensor(offsets[j]!)} = ${tensor(offsets[i]!)}'s offset`, [[
          offsets[j]!,
          values[i]!,
        ]]);
        if (end !== undefined && values[i]! + align < end) {
          add(`${tensor(offsets[j]!)} inside ${tensor(offsets[i]!)}`, [[
            offsets[j]!,
            values[i]! + align,
          ]]);
        }
        if (i < j) {
          add(`${tensor(offsets[i]!)} and ${tensor(offsets[j]!)} swapped`, [
            [offsets[i]!, values[j]!],
            [offsets[j]!, values[i]!],
          ]);
        }
      }
    }
  }
  return out;
}

/**
 * Every string of every seed with its first bytes replaced by each of {@link TERMINAL_CHARS}.
 *
 * @param seeds GGUF seeds (seeds.ts)
 * @returns the cases, in a fixed order
 */
export function controlCharCases(seeds: readonly Seed[]): CraftedCase[] {
  const enc = new TextEncoder();
  const out: CraftedCase[] = [];
  for (const seed of seeds) {
    const strings = seed.fields.filter((f) => f.kind === "length" && f.name.endsWith(" length"));
    for (const f of strings) {
      const start = f.at + f.width, length = read(seed.bytes, f);
      for (const c of TERMINAL_CHARS) {
        const code = enc.encode(c);
        if (code.length > length) continue;
        const bytes = seed.bytes.slice();
        bytes.set(code, start);
        const what = `U+${c.codePointAt(0)!.toString(16).padStart(4, "0")}`;
        out.push({
          family: "control-chars",
          name: `${seed.name}: ${f.name.replace(/ length$/, "")} starts with ${what}`,
          bytes,
        });
      }
    }
  }
  return out;
}
