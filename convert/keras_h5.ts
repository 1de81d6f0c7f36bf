/**
 * Reads a Keras model saved as HDF5 (`model.save("model.h5")`, Keras 2) through h5wasm, the HDF5
 * C library compiled to WASM. The file's bytes go into h5wasm's in-memory file system (no host
 * path reaches the library); what comes out is the model's layer list and typed weight reads.
 *
 * The Keras HDF5 layout: the root attribute `model_config` holds the model as JSON; the group
 * `model_weights/<layer>` has an attribute `weight_names` (the layer's weights in `layer.weights`
 * order, e.g. `dense/kernel:0`, `dense/bias:0`) and each weight is the dataset
 * `model_weights/<layer>/<weight name>`.
 *
 * Every failure is a one-line {@link FormatError}: no HDF5 signature, an HDF5 error (the library's
 * innermost message), a missing attribute or dataset, a wrong type or shape. A dataset's shape and
 * type are checked before its data is read, so no read is sized by an unchecked field.
 *
 * @module
 */
import type { Attribute, Dataset, File as H5File, Group } from "h5wasm";
import { FormatError, printable } from "../ggml/errors.ts";

/** HDF5's format signature, the first 8 bytes of the superblock. */
export const HDF5_SIGNATURE: readonly number[] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** How the signature is written in messages. */
const SIGNATURE_TEXT = "\\x89HDF\\r\\n\\x1a\\n";

/** Longest `model_config` JSON accepted (Magika's is about 6 KB). */
const MAX_CONFIG_CHARS = 1 << 20;
/** Most weight names one layer may list (Keras layers have a handful). */
const MAX_WEIGHT_NAMES = 64;

/**
 * The superblock's offset: HDF5 looks for the signature at byte 0, then at 512, 1024, 2048, ...
 * (a user block may precede it).
 *
 * @param bytes the whole file
 * @returns the offset of the signature, or -1 when the file has none
 * @example
 * ```ts
 * import { findHdf5Signature } from "./keras_h5.ts";
 * console.log(findHdf5Signature(new Uint8Array([0x89, 0x48, 0x44, 0x46, 13, 10, 26, 10]))); // 0
 * ```
 */
export function findHdf5Signature(bytes: Uint8Array): number {
  for (let at = 0; at + HDF5_SIGNATURE.length <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return at;
  }
  return -1;
}

/**
 * A problem inside an HDF5 file: HDF5 addresses objects by path, not by byte offset, so the
 * message names the object (`model.h5: HDF5 /model_weights/dense: weight_names: expected ...`).
 */
export class Hdf5FormatError extends FormatError {
  /**
   * @param file the file name
   * @param object the HDF5 object path (`/` for the file itself)
   * @param field the attribute, dataset property or JSON field being read
   * @param expected what a valid file has there
   * @param found what this file has there
   */
  constructor(
    file: string,
    readonly object: string,
    field: string,
    expected: string,
    found: string,
  ) {
    super(file, 0, field, expected, found);
    this.message = printable(
      `${file}: HDF5 ${object}: ${field}: expected ${expected}, found ${found}`,
    );
    this.name = "Hdf5FormatError";
  }
}

/** One weight of a Keras model, read as float32 in the file's (row-major) order. */
export interface KerasWeight {
  /** The name in `weight_names`, e.g. `dense/kernel:0`. */
  name: string;
  /** Keras shape, outermost first (a Dense kernel is `[in, out]`). */
  shape: number[];
  data: Float32Array;
}

/** A Keras HDF5 model file, open for reading. */
export interface KerasH5 {
  /** The file name, for errors. */
  readonly file: string;
  /** The parsed `model_config` attribute (not yet validated). */
  readonly modelConfig: unknown;
  /** The `layer_names` attribute of `model_weights`: the layers in saved order. */
  readonly layerNames: string[];
  /**
   * The `weight_names` attribute of `model_weights/<layer>`.
   *
   * @throws Hdf5FormatError when the group or the attribute is missing or not a string list
   */
  weightNames(layer: string): string[];
  /**
   * Reads `model_weights/<layer>/<name>` as float32 after checking it is a little-endian float32
   * dataset of exactly `shape`.
   *
   * @throws Hdf5FormatError naming the dataset when it is missing, of another type or shape
   */
  readWeight(layer: string, name: string, shape: readonly number[]): KerasWeight;
}

interface H5wasmRuntime {
  File: typeof H5File;
  Group: typeof Group;
  Dataset: typeof Dataset;
  fs: { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void };
}

let runtime: Promise<H5wasmRuntime> | undefined;

/** Loads h5wasm once (a 4 MB module: only `convert` on an HDF5 file pays for it). */
function loadH5wasm(): Promise<H5wasmRuntime> {
  runtime ??= (async () => {
    const h5wasm = (await import("h5wasm")).default;
    const module = await h5wasm.ready;
    // HDF5's default handler prints its error stack on stderr and returns an error code; this one
    // throws the stack as a JS Error instead, which hdf5Reason() reduces to one line.
    if (module.activate_throwing_error_handler() < 0) {
      throw new Error("h5wasm: cannot install the throwing HDF5 error handler");
    }
    return { File: h5wasm.File, Group: h5wasm.Group, Dataset: h5wasm.Dataset, fs: module.FS };
  })();
  return runtime;
}

/**
 * The innermost message of an HDF5 error stack ("#006: .../H5Fsuper.c line 577 in
 * H5F__super_read(): truncated file: eof = ..."), which says what was wrong with the file; the
 * outer frames only say which call failed.
 */
export function hdf5Reason(e: unknown): string {
  // A trap in the WASM code (HDF5 followed a corrupt pointer): say so rather than HDF5's words.
  if (e instanceof WebAssembly.RuntimeError) {
    return `a crash inside the HDF5 library (${e.message})`;
  }
  const text = e instanceof Error ? e.message : String(e);
  const frames = [...text.matchAll(/#\d+: .* in (\w+)\(\): (.*)$/gm)];
  const last = frames.at(-1);
  const reason = last ? `${last[2]!.trim()} (${last[1]})` : text.split("\n")[0]!.trim();
  return reason.length > 200 ? `${reason.slice(0, 200)}...` : reason;
}

/** Shortens a value from the file for a message. */
export function describeJson(value: unknown): string {
  const text = value === undefined ? "nothing" : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

/** A fresh name in h5wasm's in-memory file system for each file opened. */
let nextFsName = 0;

/**
 * Opens a Keras HDF5 model from its bytes, hands it to `use`, and closes it (also on errors).
 *
 * @param bytes the whole file
 * @param file its name, for errors
 * @param use reads what it needs; must not keep the {@link KerasH5} after returning
 * @returns what `use` returns
 * @throws FormatError when the file is not HDF5, HDF5 cannot read it, or it is not a Keras model
 * @example
 * ```ts ignore
 * import { withKerasH5 } from "./keras_h5.ts";
 * const layers = await withKerasH5(await Deno.readFile("model.h5"), "model.h5", (h5) => h5.layerNames);
 * ```
 */
export async function withKerasH5<T>(
  bytes: Uint8Array,
  file: string,
  use: (h5: KerasH5) => T,
): Promise<T> {
  if (findHdf5Signature(bytes) < 0) {
    const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0"));
    throw new FormatError(
      file,
      0,
      "HDF5 signature",
      `${SIGNATURE_TEXT} at byte 0, 512, 1024, 2048, ...`,
      bytes.length === 0 ? "an empty file" : `bytes ${head.join(" ")} and no signature further on`,
    );
  }
  const rt = await loadH5wasm();
  const { File, fs } = rt;
  // Synchronous from here on: nothing else can use the in-memory file system in between.
  const fsName = `/ggufc-input-${nextFsName++}.h5`;
  fs.writeFile(fsName, bytes);
  let h5: H5File | undefined;
  try {
    try {
      h5 = new File(fsName, "r");
    } catch (e) {
      throw new Hdf5FormatError(
        file,
        "/",
        "file",
        "an HDF5 file the HDF5 library reads",
        hdf5Reason(e),
      );
    }
    // Every read through the reader turns HDF5 library errors into Hdf5FormatErrors itself, so
    // anything else `use` throws is a bug and keeps its stack.
    return use(openKeras(rt, h5, file));
  } finally {
    try {
      h5?.close();
    } finally {
      fs.unlink(fsName);
    }
  }
}

/** Wraps an open HDF5 file as a Keras model, after checking the Keras attributes exist. */
function openKeras(rt: H5wasmRuntime, h5: H5File, file: string): KerasH5 {
  const fail = (object: string, field: string, expected: string, found: string): never => {
    throw new Hdf5FormatError(file, object, field, expected, found);
  };
  const hdf5 = <T>(object: string, read: () => T): T => {
    try {
      return read();
    } catch (e) {
      if (e instanceof FormatError) throw e;
      return fail(object, "contents", "a readable HDF5 object", hdf5Reason(e));
    }
  };

  const rootAttrs = hdf5("/", () => h5.attrs);
  const attrNames = Object.keys(rootAttrs);
  if (!attrNames.includes("model_config")) {
    const weightsOnly = attrNames.includes("layer_names");
    fail(
      "/",
      "attribute model_config",
      "a Keras model (model.save() writes its layers as JSON there)",
      weightsOnly
        ? "a Keras weights-only file (save_weights()): it has no layer list"
        : `attributes [${attrNames.slice(0, 8).join(", ")}]`,
    );
  }
  const configText = hdf5("/", () => stringAttribute(rootAttrs.model_config!, MAX_CONFIG_CHARS));
  if (configText === undefined) {
    fail(
      "/",
      "attribute model_config",
      "a JSON string",
      describeAttribute(rootAttrs.model_config!),
    );
  }
  let modelConfig: unknown;
  try {
    modelConfig = JSON.parse(configText!);
  } catch (e) {
    fail(
      "/",
      "attribute model_config",
      "JSON",
      `text that does not parse (${(e as Error).message})`,
    );
  }

  const group = groupAt(h5, "model_weights", "/model_weights", "the Keras weights group");
  const layerNames = hdf5(
    "/model_weights",
    () => stringListAttribute(group.attrs.layer_names, MAX_LAYERS),
  );
  if (layerNames === undefined) {
    fail(
      "/model_weights",
      "attribute layer_names",
      "a list of layer names",
      "none or another type",
    );
  }

  function groupAt(parent: Group, name: string, path: string, expected: string): Group {
    const g = hdf5(path, () => parent.get(name));
    if (!(g instanceof rt.Group)) fail(path, "object", expected, describeEntity(g));
    return g as Group;
  }
  const layerGroup = (layer: string): Group =>
    groupAt(group, layer, `/model_weights/${layer}`, "the layer's weight group");

  return {
    file,
    modelConfig,
    layerNames: layerNames!,
    weightNames(layer) {
      const path = `/model_weights/${layer}`;
      const g = layerGroup(layer);
      const names = hdf5(path, () => stringListAttribute(g.attrs.weight_names, MAX_WEIGHT_NAMES));
      if (names === undefined) {
        fail(path, "attribute weight_names", "a list of weight names", "none or another type");
      }
      return names!;
    },
    readWeight(layer, name, shape) {
      const path = `/model_weights/${layer}/${name}`;
      const g = layerGroup(layer);
      const d = hdf5(path, () => g.get(name));
      if (!(d instanceof rt.Dataset)) {
        fail(path, "object", `a float32 dataset of shape [${shape.join(", ")}]`, describeEntity(d));
      }
      const dataset = d as Dataset;
      const meta = hdf5(path, () => dataset.metadata);
      // HDF5 type class 1 is floating point; size 4 is float32.
      if (meta.type !== 1 || meta.size !== 4 || !meta.littleEndian || meta.vlen) {
        fail(path, "type", "little-endian float32", `type class ${meta.type}, ${meta.size} bytes`);
      }
      const found = meta.shape ?? [];
      if (found.length !== shape.length || found.some((n, i) => n !== shape[i])) {
        fail(path, "shape", `[${shape.join(", ")}]`, `[${found.join(", ")}]`);
      }
      // Shape checked: the read below is as large as the expected weight, no larger.
      const value = hdf5(path, () => dataset.value);
      const count = shape.reduce((a, b) => a * b, 1);
      if (!(value instanceof Float32Array) || value.length !== count) {
        fail(path, "data", `${count} float32 values`, describeAttributeValue(value));
      }
      return { name, shape: [...shape], data: value as Float32Array };
    },
  };
}

/** Most layers the `layer_names` attribute may list. */
const MAX_LAYERS = 4096;

/** A scalar string attribute's value (fixed or variable length), or undefined for another type. */
function stringAttribute(attr: Attribute | undefined, maxChars: number): string | undefined {
  if (attr === undefined || attr.metadata.type !== STRING_CLASS) return undefined;
  const shape = attr.shape ?? [];
  if (shape.length !== 0) return undefined;
  // A fixed-length string's size is known before the read; a variable-length one is read from
  // the file's global heap and checked after.
  if (!attr.metadata.vlen && attr.metadata.size > maxChars) return undefined;
  const value = attr.value;
  return typeof value === "string" && value.length <= maxChars ? value : undefined;
}

/** A 1-D string list attribute (an empty list may be stored as an empty float array). */
function stringListAttribute(attr: Attribute | undefined, maxItems: number): string[] | undefined {
  if (attr === undefined) return undefined;
  const shape = attr.shape ?? [];
  if (shape.length !== 1 || shape[0]! > maxItems) return undefined;
  if (shape[0] === 0) return [];
  if (attr.metadata.type !== STRING_CLASS) return undefined;
  if (!attr.metadata.vlen && attr.metadata.size > 1024) return undefined;
  const value = attr.value;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) return undefined;
  return value as string[];
}

/** HDF5 type class of strings. */
const STRING_CLASS = 3;

function describeAttribute(attr: Attribute): string {
  return `type class ${attr.metadata.type}, shape [${(attr.shape ?? []).join(", ")}]`;
}

function describeEntity(entity: unknown): string {
  if (entity === null || entity === undefined) return "nothing";
  return `a ${(entity as object).constructor?.name ?? typeof entity}`;
}

function describeAttributeValue(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name} of ${(value as Float32Array).length}`;
  }
  return typeof value;
}
