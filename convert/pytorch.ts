/**
 * Reads a PyTorch `state_dict` saved by `torch.save` (the zip format: `<archive>/data.pkl`, the
 * pickled dict, plus one `<archive>/data/<key>` entry per storage) into named tensors, without
 * Python and without executing anything: the pickle is read by {@link unpickle} with an
 * allow-list of exactly the globals a state dict uses (`collections.OrderedDict`,
 * `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter` and the storage classes).
 *
 * Shapes here are in PyTorch order (outermost first), the reverse of ggml's `ne`.
 *
 * @module
 */
import { FormatError } from "../ggml/errors.ts";
import {
  describePickleValue,
  PickleDict,
  PickleGlobal,
  type PickleGlobalSpec,
  type PickleOpaque,
  PickleTuple,
  type PickleValue,
  unpickle,
} from "./pickle.ts";
import { readZip, type ZipArchive, zipEntryBytes } from "./zip.ts";

/** Element types of PyTorch storages this reader understands. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Storage classes (`torch.<Name>`) by the element type they hold, with element sizes. */
const STORAGE_CLASSES: Record<string, { dtype: TorchDType; size: number }> = {
  FloatStorage: { dtype: "float32", size: 4 },
  DoubleStorage: { dtype: "float64", size: 8 },
  HalfStorage: { dtype: "float16", size: 2 },
  BFloat16Storage: { dtype: "bfloat16", size: 2 },
  LongStorage: { dtype: "int64", size: 8 },
  IntStorage: { dtype: "int32", size: 4 },
  ShortStorage: { dtype: "int16", size: 2 },
  CharStorage: { dtype: "int8", size: 1 },
  ByteStorage: { dtype: "uint8", size: 1 },
  BoolStorage: { dtype: "bool", size: 1 },
};

/** One tensor of a state dict, its values converted to float32. */
export interface TorchTensor {
  /** The state dict key, e.g. `fc1.weight`. */
  readonly name: string;
  /** Element type in the file. */
  readonly dtype: TorchDType;
  /** Shape in PyTorch order (outermost first; reverse it for ggml `ne`). */
  readonly shape: readonly number[];
  /** Values in row-major order (the last PyTorch dim fastest), converted to float32. */
  readonly data: Float32Array;
}

/** A state dict read by {@link readStateDict}. */
export interface StateDict {
  readonly file: string;
  /** The archive's top folder, e.g. `mnist` (torch names it after the file). */
  readonly archiveName: string;
  /** Tensors in the dict's order (the order `torch.save` wrote them). */
  readonly tensors: readonly TorchTensor[];
}

/** What a persistent id resolves to: a storage entry not yet read. */
class StorageRef implements PickleOpaque {
  readonly pickleKind = "storage";
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly itemSize: number,
    readonly numel: number,
  ) {}
}

/** What `_rebuild_tensor_v2` returns: a view into a storage, read once the pickle is done. */
class TensorRef implements PickleOpaque {
  readonly pickleKind = "tensor";
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    /** Byte offset of the REDUCE that made it in data.pkl, for errors. */
    readonly at: number,
  ) {}
}

/**
 * Reads a `torch.save` zip archive holding a state dict (a dict or OrderedDict from names to
 * tensors) and returns its tensors as float32.
 *
 * @param bytes the whole file
 * @param file the file name used in errors
 * @returns the tensors in dict order
 * @throws FormatError for anything but a plain state dict of contiguous little-endian tensors:
 *   a bad zip, an unknown pickle opcode or global, a missing or short storage entry
 * @example
 * ```ts ignore
 * import { readStateDict } from "./pytorch.ts";
 * const sd = readStateDict(await Deno.readFile("mnist_model.state_dict"), "mnist_model.state_dict");
 * console.log(sd.tensors.map((t) => `${t.name} ${t.shape.join("x")}`));
 * ```
 */
export function readStateDict(bytes: Uint8Array, file = "<memory>"): StateDict {
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    const legacyPickle = bytes[0] === 0x80; // torch < 1.6 wrote a bare pickle stream
    throw new FormatError(
      file,
      0,
      "magic",
      "a torch.save zip archive (PK)",
      legacyPickle
        ? "a bare pickle (the pre-1.6 torch.save format: re-save it with a newer torch)"
        : `bytes ${
          [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ")
        }`,
    );
  }
  const zip = readZip(bytes, file);
  const pkls = zip.entries.filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (pkls.length !== 1) {
    throw new FormatError(
      file,
      0,
      "archive layout",
      "one '<archive>/data.pkl' entry (a torch.save zip file)",
      pkls.length === 0 ? "none" : pkls.map((e) => `'${e.name}'`).join(", "),
    );
  }
  const pklEntry = pkls[0]!;
  const prefix = pklEntry.name.slice(0, -"data.pkl".length);
  checkByteOrder(zip, prefix);
  const pklFile = `${file}[${pklEntry.name}]`;
  const root = unpickle(zipEntryBytes(zip, pklEntry), {
    file: pklFile,
    globals: stateDictGlobals(pklFile),
    persistentLoad: (pid, at) => loadStorage(pid, at, pklFile),
  });
  if (!(root instanceof PickleDict)) {
    throw new FormatError(
      pklFile,
      0,
      "state dict",
      "a dict or OrderedDict",
      describePickleValue(root),
    );
  }
  const storages = new Map<string, Uint8Array>();
  const tensors: TorchTensor[] = [];
  for (const [name, value] of root.entries) {
    if (typeof name !== "string") {
      throw new FormatError(pklFile, 0, "state dict key", "a string", describePickleValue(name));
    }
    if (!(value instanceof TensorRef)) {
      throw new FormatError(
        pklFile,
        0,
        `state dict entry '${name}'`,
        "a tensor",
        describePickleValue(value),
      );
    }
    const entryName = `${prefix}data/${value.storage.key}`;
    let raw = storages.get(entryName);
    if (!raw) {
      const entry = zip.byName.get(entryName);
      if (!entry) {
        throw new FormatError(
          pklFile,
          value.at,
          `tensor '${name}': storage`,
          `an entry '${entryName}' in the archive`,
          "none",
        );
      }
      raw = zipEntryBytes(zip, entry);
      storages.set(entryName, raw);
    }
    tensors.push(materialize(name, value, raw, pklFile, entryName));
  }
  return { file, archiveName: prefix.replace(/\/$/, ""), tensors };
}

/** Rejects archives whose `byteorder` entry says big-endian (newer torch writes one). */
function checkByteOrder(zip: ZipArchive, prefix: string): void {
  const entry = zip.byName.get(`${prefix}byteorder`);
  if (!entry) return; // older torch: always little-endian
  const order = new TextDecoder().decode(zipEntryBytes(zip, entry)).trim();
  if (order !== "little") {
    throw new FormatError(
      zip.file,
      entry.dataOffset,
      `entry '${entry.name}'`,
      "'little'",
      `'${order.slice(0, 20)}'`,
    );
  }
}

/**
 * The globals a state dict may name; everything else is refused by the unpickler.
 *
 * @param file the pickle's name, for errors
 * @returns the allow-list for {@link unpickle}
 */
export function stateDictGlobals(file: string): ReadonlyMap<string, PickleGlobalSpec> {
  return new Map<string, PickleGlobalSpec>([
    ["collections.OrderedDict", {
      call(args, at) {
        if (args.length !== 0) {
          throw new FormatError(file, at, "OrderedDict()", "no arguments", `${args.length}`);
        }
        return new PickleDict("collections.OrderedDict");
      },
    }],
    ["torch._utils._rebuild_tensor_v2", { call: (args, at) => rebuildTensor(args, at, file) }],
    ["torch._utils._rebuild_parameter", {
      // (data, requires_grad, backward_hooks): a Parameter is its tensor for our purposes.
      call(args, at) {
        const data = args[0];
        if (args.length !== 3 || !(data instanceof TensorRef)) {
          throw new FormatError(
            file,
            at,
            "_rebuild_parameter arguments",
            "(tensor, requires_grad, hooks)",
            `${args.length} arguments`,
          );
        }
        return data;
      },
    }],
    ...Object.keys(STORAGE_CLASSES).map((n): [string, PickleGlobalSpec] => [`torch.${n}`, {}]),
  ]);
}

/**
 * `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata])`: checks the arguments and returns a {@link TensorRef}.
 */
function rebuildTensor(args: readonly PickleValue[], at: number, file: string): PickleValue {
  const bad = (field: string, expected: string, found: string) =>
    new FormatError(file, at, `_rebuild_tensor_v2 ${field}`, expected, found);
  if (args.length !== 6 && args.length !== 7) {
    throw bad("arguments", "6 or 7 arguments", `${args.length}`);
  }
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) {
    throw bad("storage", "a persistent storage id", describePickleValue(storage ?? null));
  }
  if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) {
    throw bad("storage_offset", "an integer >= 0", describePickleValue(offset ?? null));
  }
  const shape = intTuple(size ?? null, "size", bad);
  const strides = intTuple(stride ?? null, "stride", bad);
  if (strides.length !== shape.length) {
    throw bad("stride", `${shape.length} strides`, `${strides.length}`);
  }
  return new TensorRef(storage, offset, shape, strides, at);
}

function intTuple(
  v: PickleValue,
  field: string,
  bad: (field: string, expected: string, found: string) => FormatError,
): number[] {
  if (!(v instanceof PickleTuple)) throw bad(field, "a tuple of integers", describePickleValue(v));
  return v.items.map((x) => {
    if (typeof x !== "number" || !Number.isInteger(x) || x < 0) {
      throw bad(field, "integers >= 0", describePickleValue(x));
    }
    return x;
  });
}

/** Resolves `('storage', storage_type, key, location, numel)`. */
function loadStorage(pid: PickleValue, at: number, file: string): StorageRef {
  const items = pid instanceof PickleTuple ? pid.items : undefined;
  if (!items || items.length !== 5 || items[0] !== "storage") {
    throw new FormatError(
      file,
      at,
      "persistent id",
      "('storage', type, key, location, numel)",
      describePickleValue(pid),
    );
  }
  const [, type, key, , numel] = items;
  const cls = type instanceof PickleGlobal && type.module === "torch"
    ? STORAGE_CLASSES[type.name]
    : undefined;
  if (!cls) {
    throw new FormatError(
      file,
      at,
      "persistent id: storage type",
      "a torch storage class",
      describePickleValue(type ?? null),
    );
  }
  if (typeof key !== "string" || !/^[A-Za-z0-9_]+$/.test(key)) {
    throw new FormatError(
      file,
      at,
      "persistent id: key",
      "a storage name like '0'",
      describePickleValue(key ?? null),
    );
  }
  if (typeof numel !== "number" || !Number.isInteger(numel) || numel < 0) {
    throw new FormatError(
      file,
      at,
      "persistent id: numel",
      "an integer >= 0",
      describePickleValue(numel ?? null),
    );
  }
  return new StorageRef(key, cls.dtype, cls.size, numel);
}

/** Checks a tensor view against its storage and copies its values out as float32. */
function materialize(
  name: string,
  t: TensorRef,
  raw: Uint8Array,
  file: string,
  entryName: string,
): TorchTensor {
  const { storage, shape, stride, storageOffset } = t;
  const numel = shape.reduce((a, b) => a * b, 1);
  if (storage.numel * storage.itemSize > raw.length) {
    throw new FormatError(
      file,
      t.at,
      `tensor '${name}': storage '${entryName}'`,
      `${storage.numel} ${storage.dtype} elements (${storage.numel * storage.itemSize} bytes)`,
      `${raw.length} bytes`,
    );
  }
  if (numel > 0 && storageOffset + numel > storage.numel) {
    throw new FormatError(
      file,
      t.at,
      `tensor '${name}': storage offset + size`,
      `at most the storage's ${storage.numel} elements`,
      `${storageOffset} + ${numel}`,
    );
  }
  // Contiguous row-major: stride[i] = product of shape[i+1..]; size-1 dims may have any stride.
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) {
      throw new FormatError(
        file,
        t.at,
        `tensor '${name}': stride`,
        "a contiguous tensor (call .contiguous() before saving)",
        `stride (${stride.join(", ")}) for shape (${shape.join(", ")})`,
      );
    }
    expect *= shape[i]!;
  }
  return {
    name,
    dtype: storage.dtype,
    shape,
    data: toFloat32(storage.dtype, raw, storageOffset, numel),
  };
}

/** Converts `n` little-endian elements starting at element `offset` to float32. */
function toFloat32(dtype: TorchDType, raw: Uint8Array, offset: number, n: number): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case "float32":
      for (let i = 0; i < n; i++) out[i] = view.getFloat32((offset + i) * 4, true);
      break;
    case "float64":
      for (let i = 0; i < n; i++) out[i] = view.getFloat64((offset + i) * 8, true);
      break;
    case "float16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16((offset + i) * 2, true));
      break;
    case "bfloat16": {
      const f = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        f.setUint32(0, view.getUint16((offset + i) * 2, true) << 16);
        out[i] = f.getFloat32(0);
      }
      break;
    }
    case "int64":
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64((offset + i) * 8, true));
      break;
    case "int32":
      for (let i = 0; i < n; i++) out[i] = view.getInt32((offset + i) * 4, true);
      break;
    case "int16":
      for (let i = 0; i < n; i++) out[i] = view.getInt16((offset + i) * 2, true);
      break;
    case "int8":
      for (let i = 0; i < n; i++) out[i] = view.getInt8(offset + i);
      break;
    case "uint8":
    case "bool":
      for (let i = 0; i < n; i++) out[i] = view.getUint8(offset + i);
      break;
  }
  return out;
}

/** IEEE half-precision bits to a number (exact). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
