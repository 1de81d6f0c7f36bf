/**
 * The valid files the fuzzer starts from, each with a map of its integer fields: all four
 * model layouts (small channel counts, seeded random weights), GGUF v1/v2/v3, every supported
 * tensor type, metadata of every value type with nested arrays, IDX images and labels, and
 * PyTorch state dicts (hand-built, plus one derived from the real fixture when it is present).
 *
 * @module
 */
import { readZip, zipEntryBytes } from "../../convert/zip.ts";
import { GgmlType, ggmlTypeInfo } from "../../ggml/ggml_types.ts";
import type { GgufValue } from "../../ggml/gguf_reader.ts";
import { quantize } from "../../ggml/quant.ts";
import { writeIdxImages, writeIdxLabels } from "../../data/idx.ts";
import {
  fcWeights,
  ggmlCnnWeights,
  legacyOf,
  seedCnnWeights,
  type TestWeight,
} from "../../testkit/models.ts";
import { randomPixels, rng } from "../../testkit/random.ts";
import { buildZip, f32Bytes, stateDictZip } from "../../testkit/torch_fixtures.ts";
import { ggufSeed, type SeedTensor } from "./gguf_seed.ts";
import { pickleFields, zipFields } from "./zip_fields.ts";
import type { Field, FuzzFormat, Seed } from "./types.ts";

/** Where the real PyTorch state dict fixture lives when ../shared is present. */
export const STATE_DICT_FIXTURE = new URL(
  "../../../shared/fixtures/mnist_model.state_dict",
  import.meta.url,
);

/** Hidden units of the FC seeds: fc1.weight is [784, 2], about 6 KB as f32. */
const FC_HIDDEN = 2;
/** Channels of the CNN seeds. */
const CNN_SIZES = { c1: 2, c2: 2 };

function tensorsOf(ws: TestWeight[], override?: (w: TestWeight) => GgmlType): SeedTensor[] {
  return ws.map((w) => {
    const type = override?.(w) ?? w.type;
    return { name: w.name, ne: w.ne, type, data: quantize(type, w.values) };
  });
}

const str = (value: string): GgufValue => ({ type: "string", value });

function archMeta(arch: string): [string, GgufValue][] {
  return [["general.architecture", str(arch)], ["general.name", str(`fuzz ${arch}`)]];
}

/** Metadata of every GGUF value type, nested arrays and non-ASCII strings. */
function richMeta(): [string, GgufValue][] {
  const u8 = (value: number): GgufValue => ({ type: "uint8", value });
  return [
    ["general.architecture", str("mnist-fc")],
    ["general.name", str("fuzz \u00fcn\u00efc\u00f8de \u2713 \u{1f600}")],
    ["general.alignment", { type: "uint32", value: 16 }],
    ["x.u8", u8(7)],
    ["x.i8", { type: "int8", value: -3 }],
    ["x.u16", { type: "uint16", value: 65535 }],
    ["x.i16", { type: "int16", value: -2 }],
    ["x.i32", { type: "int32", value: -5 }],
    ["x.f32", { type: "float32", value: 0.5 }],
    ["x.f64", { type: "float64", value: -0.25 }],
    ["x.bool", { type: "bool", value: true }],
    ["x.u64", { type: "uint64", value: 1n << 40n }],
    ["x.i64", { type: "int64", value: -7n }],
    ["x.ints", {
      type: "array",
      itemType: "int32",
      value: [1, 2, 3].map((v) => ({ type: "int32", value: v })),
    }],
    ["x.strs", { type: "array", itemType: "string", value: [str("a"), str(""), str("b\u00e9")] }],
    [
      "x.nested",
      {
        type: "array",
        itemType: "array",
        value: [
          { type: "array", itemType: "uint8", value: [u8(1), u8(2)] },
          {
            type: "array",
            itemType: "array",
            value: [{ type: "array", itemType: "uint8", value: [u8(3)] }],
          },
        ],
      },
    ],
  ];
}

/** GGUF seeds: three layouts in v1, v2, v3; the FC net in every tensor type; rich metadata. */
export function ggufSeeds(): Seed[] {
  const seeds: Seed[] = [];
  const models: [string, string, TestWeight[]][] = [
    ["seed-cnn", "mnist-cnn", seedCnnWeights(11, CNN_SIZES)],
    ["ggml-cnn", "mnist-cnn", ggmlCnnWeights(12, CNN_SIZES)],
    ["ggml-fc", "mnist-fc", fcWeights(13, FC_HIDDEN)],
  ];
  for (const version of [1, 2, 3] as const) {
    for (const [layout, arch, ws] of models) {
      seeds.push(ggufSeed(`gguf-v${version}-${layout}`, version, archMeta(arch), tensorsOf(ws)));
    }
  }
  // 784 is not a multiple of 32, so the quantised seeds are CNNs whose dense.weight row
  // (49 * c2) is: c2 = 32.
  const cnn = ggmlCnnWeights(14, { c1: 2, c2: 32 });
  const quantTypes = [
    GgmlType.F16,
    GgmlType.BF16,
    GgmlType.Q4_0,
    GgmlType.Q4_1,
    GgmlType.Q5_0,
    GgmlType.Q5_1,
    GgmlType.Q8_0,
  ];
  for (const t of quantTypes) {
    seeds.push(
      ggufSeed(
        `gguf-v3-ggml-cnn-${GgmlType[t].toLowerCase()}`,
        3,
        archMeta("mnist-cnn"),
        tensorsOf(cnn, (w) => (w.ne[0]! % ggmlTypeInfo(t).blockSize === 0 ? t : w.type)),
      ),
    );
  }
  for (const version of [1, 3] as const) {
    seeds.push(
      ggufSeed(
        `gguf-v${version}-rich-metadata`,
        version,
        richMeta(),
        tensorsOf(
          fcWeights(15, FC_HIDDEN),
          (w) => (w.name === "fc1.weight" ? GgmlType.F16 : w.type),
        ),
      ),
    );
  }
  return seeds;
}

/** The fields of a legacy file: magic, then each tensor's n_dims and dims. */
function legacyFields(bytes: Uint8Array): Field[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [{ at: 0, width: 4, kind: "magic", name: "magic" }];
  let p = 4;
  for (let i = 0; p < bytes.length; i++) {
    const nDims = dv.getInt32(p, true);
    fields.push({ at: p, width: 4, kind: "n_dims", name: `tensor ${i} n_dims` });
    p += 4;
    let n = 1;
    for (let j = 0; j < nDims; j++, p += 4) {
      fields.push({ at: p, width: 4, kind: "dim", name: `tensor ${i} ne[${j}]` });
      n *= dv.getInt32(p, true);
    }
    p += 4 * n;
  }
  return fields;
}

/** Legacy seeds: the FC net with 2 and 1 hidden units, and one with 2-dim biases. */
export function legacySeeds(): Seed[] {
  const make = (name: string, ws: TestWeight[]): Seed => {
    const bytes = legacyOf(ws);
    return { name, bytes, fields: legacyFields(bytes) };
  };
  const twoDim = fcWeights(23, FC_HIDDEN).map((w) =>
    w.name.endsWith("bias") ? { ...w, ne: [w.ne[0]!, 1] } : w
  );
  return [
    make("legacy-fc-2", fcWeights(21, FC_HIDDEN)),
    make("legacy-fc-1", fcWeights(22, 1)),
    make("legacy-fc-2d-bias", twoDim),
  ];
}

/** IDX seeds: 3 MNIST-sized images, 2 images of 5x4, 5 labels. */
export function idxSeeds(): Seed[] {
  const r = rng(31);
  const header = (n: number): Field[] => {
    const names = ["magic", "count", "rows", "cols"];
    const kinds: Field["kind"][] = ["magic", "count", "dim", "dim"];
    return names.slice(0, n).map((name, i) => ({
      at: 4 * i,
      width: 4,
      kind: kinds[i]!,
      be: true,
      name,
    }));
  };
  const images = (name: string, count: number, rows: number, cols: number): Seed => ({
    name,
    bytes: writeIdxImages({ count, rows, cols, pixels: randomPixels(r, count * rows * cols) }),
    fields: header(4),
  });
  const labels = Uint8Array.from({ length: 5 }, (_, i) => (i * 3) % 10);
  return [
    images("idx-images-3x28x28", 3, 28, 28),
    images("idx-images-2x5x4", 2, 5, 4),
    { name: "idx-labels-5", bytes: writeIdxLabels(labels), fields: header(2) },
  ];
}

/** The FC net's tensors for a hand-built state dict (PyTorch order shapes). */
function tinyStateDict(deflate: boolean): Uint8Array {
  const ws = fcWeights(41, FC_HIDDEN);
  const tensors = ws.map((w, i) => ({
    name: w.name,
    key: String(i),
    numel: w.values.length,
    shape: [...w.ne].reverse(),
  }));
  const storages = Object.fromEntries(ws.map((w, i) => [String(i), f32Bytes(w.values)]));
  const zip = stateDictZip(tensors, storages, "tiny");
  if (!deflate) return zip;
  // The same archive with every entry deflated (torch stores, but the reader inflates).
  const z = readZip(zip);
  return buildZip(
    z.entries.map((e) => ({ name: e.name, data: zipEntryBytes(z, e), deflate: true })),
  );
}

/**
 * The real fixture shrunk: its own data.pkl (as torch wrote it) with the hidden size 500
 * patched to 2 and the storages cut to match, re-zipped. Keeps torch's exact opcode stream.
 */
function shrunkFixture(bytes: Uint8Array): Uint8Array {
  const z = readZip(bytes, "mnist_model.state_dict");
  const entry = (suffix: string) => {
    const e = z.entries.find((x) => x.name.endsWith(suffix));
    if (!e) throw new RangeError(`Fixture has no entry '${suffix}'`);
    return { name: e.name, data: zipEntryBytes(z, e) };
  };
  const pkl = entry("data.pkl");
  const patched = replaceAll(
    replaceAll(
      replaceAll(pkl.data, [0x4d, 0xf4, 0x01], [0x4d, FC_HIDDEN, 0]), // BININT2 500 -> 2
      [0x4a, 0x40, 0xfb, 0x05, 0x00], // BININT 392000 (784 * 500)
      [0x4a, ...u32le(784 * FC_HIDDEN)],
    ),
    [0x4d, 0x88, 0x13], // BININT2 5000 (10 * 500)
    [0x4d, 10 * FC_HIDDEN, 0],
  );
  const cut = (suffix: string, floats: number) => {
    const e = entry(suffix);
    return { name: e.name, data: e.data.slice(0, floats * 4) };
  };
  return buildZip([
    { name: pkl.name, data: patched },
    cut("data/0", 784 * FC_HIDDEN),
    cut("data/1", FC_HIDDEN),
    cut("data/2", 10 * FC_HIDDEN),
    cut("data/3", 10),
    entry("version"),
  ]);
}

function u32le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function replaceAll(data: Uint8Array, from: number[], to: number[]): Uint8Array {
  if (from.length !== to.length) throw new RangeError("replaceAll keeps lengths");
  const out = data.slice();
  let hits = 0;
  for (let i = 0; i + from.length <= out.length; i++) {
    if (from.every((b, k) => out[i + k] === b)) {
      out.set(to, i);
      hits++;
    }
  }
  if (hits === 0) throw new RangeError(`Pattern ${from} not found in the fixture's data.pkl`);
  return out;
}

function stateDictSeed(name: string, bytes: Uint8Array): Seed {
  const z = readZip(bytes, name);
  const fields = zipFields(bytes);
  const pkl = z.entries.find((e) => e.name.endsWith("data.pkl"));
  if (pkl && pkl.method === 0) fields.push(...pickleFields(zipEntryBytes(z, pkl), pkl.dataOffset));
  return { name, bytes, fields };
}

/**
 * State dict seeds: hand-built (stored and deflated), plus the real fixture shrunk when
 * ../shared/fixtures is present.
 */
export function stateDictSeeds(): Seed[] {
  const seeds = [
    stateDictSeed("statedict-tiny", tinyStateDict(false)),
    stateDictSeed("statedict-tiny-deflated", tinyStateDict(true)),
  ];
  let fixture: Uint8Array | undefined;
  try {
    fixture = Deno.readFileSync(STATE_DICT_FIXTURE);
  } catch {
    fixture = undefined;
  }
  if (fixture) seeds.push(stateDictSeed("statedict-fixture-shrunk", shrunkFixture(fixture)));
  return seeds;
}

/**
 * The seeds of one format.
 *
 * @param format the format
 * @returns valid files with field maps
 */
export function seedsOf(format: FuzzFormat): Seed[] {
  switch (format) {
    case "gguf":
      return ggufSeeds();
    case "legacy":
      return legacySeeds();
    case "idx":
      return idxSeeds();
    case "statedict":
      return stateDictSeeds();
  }
}
