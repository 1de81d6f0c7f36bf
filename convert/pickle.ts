/**
 * A restricted unpickler: it reads the subset of Python's pickle protocols 2 to 5 that plain
 * data and PyTorch state dicts use, and nothing else. It never executes code: a `GLOBAL` is
 * looked up in a caller-given allow-list of names, each with a TypeScript implementation (or
 * none, for names that are only ever passed around as markers such as `torch.FloatStorage`).
 * Every other global and every opcode outside the supported set is a {@link FormatError} that
 * names the byte offset and what was found. Memo size, stack size and string lengths are
 * bounded, so a hostile stream cannot make it allocate more than its own size allows.
 *
 * @module
 */
import { FormatError } from "../ggml/errors.ts";
import { ByteReader } from "../ggml/byte_reader.ts";

/** A Python tuple (kept apart from lists, which are plain arrays). */
export class PickleTuple {
  /** @param items the tuple's elements */
  constructor(readonly items: readonly PickleValue[]) {}
}

/** Keys a {@link PickleDict} accepts: hashable scalars. */
export type PickleDictKey = string | number | bigint | boolean | null;

/** A Python dict (or an OrderedDict made by an allowed global), in insertion order. */
export class PickleDict {
  /** Key/value pairs in insertion order. */
  readonly entries = new Map<PickleDictKey, PickleValue>();
  /** Attributes set by a `BUILD` with a dict state (e.g. an OrderedDict's `_metadata`). */
  readonly attributes = new Map<string, PickleValue>();
  /** @param className `"dict"` or the allowed global that made it, e.g. `collections.OrderedDict` */
  constructor(readonly className = "dict") {}
}

/** A global that passed the allow-list: `module.name`, with its implementation if callable. */
export class PickleGlobal {
  /**
   * @param module the module, e.g. `torch`
   * @param name the name, e.g. `FloatStorage`
   * @param spec how the caller implements it
   */
  constructor(
    readonly module: string,
    readonly name: string,
    readonly spec: PickleGlobalSpec,
  ) {}
  /** `module.name` */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A value made by a caller's global or persistent-id hook (e.g. a tensor reference); the
 * unpickler only passes it around.
 */
export interface PickleOpaque {
  /** What kind of object this is, for error messages. */
  readonly pickleKind: string;
}

/** Everything the unpickler can produce. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | PickleOpaque;

/** How an allowed global behaves. */
export interface PickleGlobalSpec {
  /**
   * Called by `REDUCE` with the argument tuple's items; omit it for globals that are data
   * markers only (calling those is an error).
   *
   * @param args the arguments
   * @param at byte offset of the `REDUCE` opcode, for errors
   */
  call?(args: readonly PickleValue[], at: number): PickleValue;
}

/** Options of {@link unpickle}. */
export interface UnpickleOptions {
  /** File name used in errors. */
  file?: string;
  /** Allowed globals by `module.name`; any other global is rejected. */
  globals?: ReadonlyMap<string, PickleGlobalSpec>;
  /** Resolves a `BINPERSID` id; without it persistent ids are rejected. */
  persistentLoad?(pid: PickleValue, at: number): PickleValue;
  /** Largest memo index accepted (default 1,000,000). */
  maxMemo?: number;
  /** Largest number of values on the stack, marks included (default 1,000,000). */
  maxStack?: number;
}

/** Opcode names, for messages about opcodes this reader does not accept. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/** Describes a value for error messages, e.g. `a tuple of 3` or `'abc'`. */
export function describePickleValue(v: PickleValue): string {
  if (v === null) return "None";
  if (typeof v === "string") return `'${v.length > 40 ? v.slice(0, 40) + "..." : v}'`;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "True" : "False";
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v instanceof PickleTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PickleDict) return `a ${v.className} of ${v.entries.size}`;
  if (v instanceof PickleGlobal) return `global ${v.qualifiedName}`;
  return `a ${v.pickleKind}`;
}

/**
 * Unpickles `bytes` with only the allowed globals; returns the value `STOP` leaves on the
 * stack.
 *
 * @param bytes the pickle stream (e.g. a state dict's `data.pkl`)
 * @param opts allowed globals, persistent-id resolver, limits, file name for errors
 * @returns the unpickled value
 * @throws FormatError for any unsupported opcode or global, a truncated stream, a bad memo
 *   reference, or a stack/memo over its limit
 * @example
 * ```ts
 * import { unpickle } from "./pickle.ts";
 * // pickle.dumps(7, protocol=2)
 * const v = unpickle(new Uint8Array([0x80, 2, 0x4b, 7, 0x2e]));
 * console.log(v); // 7
 * ```
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): PickleValue {
  const file = opts.file ?? "<memory>";
  const globals = opts.globals ?? new Map<string, PickleGlobalSpec>();
  const maxMemo = opts.maxMemo ?? 1_000_000;
  const maxStack = opts.maxStack ?? 1_000_000;
  const r = new ByteReader(bytes, file);
  const stack: PickleValue[] = [];
  // Stack heights at each MARK: the values above the last one belong to the next TUPLE etc.
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let at = 0; // offset of the opcode being executed

  const fail = (field: string, expected: string, found: string, offset = at) =>
    new FormatError(file, offset, field, expected, found);

  const push = (v: PickleValue) => {
    if (stack.length + marks.length >= maxStack) {
      throw fail("stack", `at most ${maxStack} values`, "more (stack limit exceeded)");
    }
    stack.push(v);
  };
  const floor = () => marks.length > 0 ? marks[marks.length - 1]! : 0;
  const pop = (what: string): PickleValue => {
    if (stack.length <= floor()) {
      throw fail(what, "a value on the stack", stack.length > 0 ? "a MARK" : "an empty stack");
    }
    return stack.pop()!;
  };
  const top = (what: string): PickleValue => {
    if (stack.length <= floor()) {
      throw fail(what, "a value on the stack", stack.length > 0 ? "a MARK" : "an empty stack");
    }
    return stack[stack.length - 1]!;
  };
  /** Pops everything above the last MARK. */
  const popMark = (what: string): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) throw fail(what, "a MARK on the stack", "none");
    return stack.splice(m);
  };
  const memoPut = (index: number) => {
    if (index > maxMemo) {
      throw fail("memo index", `at most ${maxMemo}`, `${index}`);
    }
    memo.set(index, top("memo put"));
  };
  const memoGet = (index: number) => {
    const v = memo.get(index);
    if (v === undefined) {
      throw fail(
        "memo reference",
        `an index stored earlier (memo holds ${memo.size})`,
        `${index} (never stored)`,
      );
    }
    push(v);
  };
  const str = (n: number, field: string) => {
    // ByteReader checks n against the bytes left before decoding anything.
    return r.utf8(n, field);
  };
  const line = (field: string): string => {
    const start = r.pos;
    const end = bytes.indexOf(0x0a, start);
    if (end < 0) throw fail(field, "a line ending in \\n", "end of stream", start);
    r.pos = end + 1;
    const s = new TextDecoder().decode(bytes.subarray(start, end));
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(s)) {
      throw fail(field, "a Python identifier", `'${s.slice(0, 60)}'`, start);
    }
    return s;
  };
  const global = (module: string, name: string) => {
    const key = `${module}.${name}`;
    const spec = name.includes(".") ? undefined : globals.get(key);
    if (!spec) {
      const allowed = [...globals.keys()];
      throw fail(
        "global",
        allowed.length > 0 ? `one of ${allowed.join(", ")}` : "no globals (plain data only)",
        `${key} (refused: globals outside the allow-list are never resolved)`,
      );
    }
    push(new PickleGlobal(module, name, spec));
  };
  const setItem = (dict: PickleValue, key: PickleValue, value: PickleValue) => {
    if (!(dict instanceof PickleDict)) {
      throw fail("SETITEM target", "a dict", describePickleValue(dict));
    }
    if (
      key !== null && typeof key === "object"
    ) {
      throw fail("dict key", "a string, number, bool or None", describePickleValue(key));
    }
    dict.entries.set(key, value);
  };

  for (;;) {
    at = r.pos;
    const op = r.u8("opcode");
    switch (op) {
      case 0x80: { // PROTO
        const v = r.u8("protocol");
        if (v < 2 || v > 5) throw fail("protocol", "2 to 5", `${v}`, at + 1);
        break;
      }
      case 0x95: { // FRAME: a length hint; the frame's contents are read as ordinary opcodes
        const n = r.u64("frame length");
        if (n > BigInt(r.remaining)) {
          throw fail("frame length", `at most ${r.remaining}`, `${n}`, at + 1);
        }
        break;
      }
      case 0x2e: { // STOP
        const v = pop("STOP");
        if (stack.length !== 0 || marks.length !== 0) {
          throw fail("STOP", "an otherwise empty stack", `${stack.length} more values`);
        }
        return v;
      }
      case 0x28: // MARK
        if (stack.length + marks.length >= maxStack) {
          throw fail("stack", `at most ${maxStack} values`, "more (stack limit exceeded)");
        }
        marks.push(stack.length);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(r.i32("BININT"));
        break;
      case 0x4b: // BININT1
        push(r.u8("BININT1"));
        break;
      case 0x4d: // BININT2
        push(r.u16("BININT2"));
        break;
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = r.u8("LONG1 length");
        push(decodeLong(r.take(n, "LONG1")));
        break;
      }
      case 0x8b: { // LONG4
        const n = r.u32Bounded("LONG4 length", r.remaining, "at most the bytes left:");
        push(decodeLong(r.take(n, "LONG4")));
        break;
      }
      case 0x47: { // BINFLOAT: big-endian float64
        r.need(8, "BINFLOAT");
        push(r.view.getFloat64(r.pos, false));
        r.pos += 8;
        break;
      }
      case 0x58: { // BINUNICODE
        const n = r.u32Bounded("BINUNICODE length", r.remaining, "at most the bytes left:");
        push(str(n, "BINUNICODE"));
        break;
      }
      case 0x8c: // SHORT_BINUNICODE
        push(str(r.u8("SHORT_BINUNICODE length"), "SHORT_BINUNICODE"));
        break;
      case 0x8d: { // BINUNICODE8
        const n = r.u64Bounded("BINUNICODE8 length", r.remaining, "at most the bytes left:");
        push(str(n, "BINUNICODE8"));
        break;
      }
      case 0x63: { // GLOBAL: "module\nname\n"
        const module = line("GLOBAL module");
        const name = line("GLOBAL name");
        global(module, name);
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop("STACK_GLOBAL name");
        const module = pop("STACK_GLOBAL module");
        if (typeof name !== "string" || typeof module !== "string") {
          throw fail(
            "STACK_GLOBAL",
            "two strings",
            `${describePickleValue(module)}, ${describePickleValue(name)}`,
          );
        }
        global(module, name);
        break;
      }
      case 0x71: // BINPUT
        memoPut(r.u8("BINPUT index"));
        break;
      case 0x72: // LONG_BINPUT
        memoPut(r.u32("LONG_BINPUT index"));
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        memoGet(r.u8("BINGET index"));
        break;
      case 0x6a: // LONG_BINGET
        memoGet(r.u32("LONG_BINGET index"));
        break;
      case 0x29: // EMPTY_TUPLE
        push(new PickleTuple([]));
        break;
      case 0x85: // TUPLE1
        push(new PickleTuple([pop("TUPLE1")]));
        break;
      case 0x86: { // TUPLE2
        const b = pop("TUPLE2");
        const a = pop("TUPLE2");
        push(new PickleTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop("TUPLE3");
        const b = pop("TUPLE3");
        const a = pop("TUPLE3");
        push(new PickleTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(new PickleTuple(popMark("TUPLE")));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x61: { // APPEND
        const v = pop("APPEND");
        const list = top("APPEND");
        if (!Array.isArray(list)) throw fail("APPEND target", "a list", describePickleValue(list));
        list.push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark("APPENDS");
        const list = top("APPENDS");
        if (!Array.isArray(list)) {
          throw fail("APPENDS target", "a list", describePickleValue(list));
        }
        for (const v of items) list.push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new PickleDict());
        break;
      case 0x73: { // SETITEM
        const value = pop("SETITEM value");
        const key = pop("SETITEM key");
        setItem(top("SETITEM"), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark("SETITEMS");
        if (items.length % 2 !== 0) {
          throw fail("SETITEMS", "key/value pairs", `${items.length} values`);
        }
        const dict = top("SETITEMS");
        for (let i = 0; i < items.length; i += 2) setItem(dict, items[i]!, items[i + 1]!);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop("BINPERSID");
        if (!opts.persistentLoad) {
          throw fail("persistent id", "none (plain data only)", describePickleValue(pid));
        }
        push(opts.persistentLoad(pid, at));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop("REDUCE arguments");
        const fn = pop("REDUCE callable");
        if (!(fn instanceof PickleGlobal)) {
          throw fail("REDUCE callable", "an allowed global", describePickleValue(fn));
        }
        if (!fn.spec.call) {
          throw fail("REDUCE callable", "a callable global", `${fn.qualifiedName} (data only)`);
        }
        if (!(args instanceof PickleTuple)) {
          throw fail("REDUCE arguments", "a tuple", describePickleValue(args));
        }
        push(fn.spec.call(args.items, at));
        break;
      }
      case 0x62: { // BUILD: only dict-like objects taking a dict of attributes
        const state = pop("BUILD state");
        const obj = top("BUILD");
        if (!(obj instanceof PickleDict) || obj.className === "dict") {
          throw fail("BUILD target", "an OrderedDict-like object", describePickleValue(obj));
        }
        if (state === null) break;
        if (!(state instanceof PickleDict)) {
          throw fail("BUILD state", "a dict or None", describePickleValue(state));
        }
        for (const [k, v] of state.entries) {
          if (typeof k !== "string") {
            throw fail("BUILD state key", "a string", describePickleValue(k));
          }
          obj.attributes.set(k, v);
        }
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        throw fail(
          "opcode",
          "an opcode a state dict uses",
          `0x${op.toString(16).padStart(2, "0")}${name ? ` (${name}, not supported)` : ""}`,
        );
      }
    }
  }
}

/** A little-endian two's-complement integer; a number when it is safe, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}
