import assert from "node:assert/strict";
import {
  PickleDict,
  PickleGlobal,
  type PickleGlobalSpec,
  PickleTuple,
  type PickleValue,
  unpickle,
} from "../convert/pickle.ts";
import { stateDictGlobals } from "../convert/pytorch.ts";
import { FormatError } from "../ggml/errors.ts";

/** Bytes from a string of byte values 0..255 ("\x80\x02K\x07." style, as Python prints them). */
function b(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => {
    const v = c.charCodeAt(0);
    if (v > 255) throw new Error("not a byte string");
    return v;
  });
}

/** Asserts that `fn` throws a FormatError at `offset` whose message matches `pattern`. */
function rejects(fn: () => unknown, offset: number, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e}`);
    assert.equal(e.offset, offset, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("unpickle() reads PROTO, BININT1 and STOP", () => {
  assert.equal(unpickle(b("\x80\x02K\x07.")), 7);
});

Deno.test("unpickle() reads BININT, BININT2, LONG1, NEWTRUE/NEWFALSE, BINFLOAT, APPENDS", () => {
  // pickle.dumps([True, False, -1, 300, 70000, -70000, 2**40, -2**70, 1.5], protocol=2)
  const v = unpickle(b(
    "\x80\x02]q\x00(\x88\x89J\xff\xff\xff\xffM,\x01Jp\x11\x01\x00J\x90\xee\xfe\xff" +
      "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0" +
      "G?\xf8\x00\x00\x00\x00\x00\x00e.",
  ));
  assert.deepEqual(v, [true, false, -1, 300, 70000, -70000, 2 ** 40, -(2n ** 70n), 1.5]);
});

Deno.test("unpickle() reads LONG1 of zero length as 0", () => {
  assert.equal(unpickle(b("\x80\x02\x8a\x00.")), 0);
});

Deno.test("unpickle() reads EMPTY_DICT, BINUNICODE, EMPTY_LIST, TUPLE2, NONE, APPENDS, SETITEMS", () => {
  // pickle.dumps({'a': [1, (2, 3)], 'b': None}, protocol=2)
  const v = unpickle(
    b("\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02K\x03\x86q\x03eX\x01\x00\x00\x00bq\x04Nu."),
  );
  assert.ok(v instanceof PickleDict);
  assert.equal(v.className, "dict");
  assert.deepEqual([...v.entries.keys()], ["a", "b"]);
  assert.deepEqual(v.entries.get("a"), [1, new PickleTuple([2, 3])]);
  assert.equal(v.entries.get("b"), null);
});

Deno.test("unpickle() reads EMPTY_TUPLE, TUPLE1, TUPLE3 and MARK+TUPLE", () => {
  const v = unpickle(b("\x80\x02()K\x01\x85K\x01K\x02K\x03\x87(K\x01K\x02K\x03K\x04tt."));
  assert.deepEqual(
    v,
    new PickleTuple([
      new PickleTuple([]),
      new PickleTuple([1]),
      new PickleTuple([1, 2, 3]),
      new PickleTuple([1, 2, 3, 4]),
    ]),
  );
});

Deno.test("unpickle() reads APPEND and SETITEM", () => {
  const list = unpickle(b("\x80\x02]K\x01aK\x02a."));
  assert.deepEqual(list, [1, 2]);
  const dict = unpickle(b("\x80\x02}K\x01K\x02s."));
  assert.ok(dict instanceof PickleDict);
  assert.equal(dict.entries.get(1), 2);
});

Deno.test("unpickle() shares memoised values through BINPUT/BINGET and LONG_BINPUT/LONG_BINGET", () => {
  const v = unpickle(b("\x80\x02]q\x05h\x05r\x00\x01\x00\x00j\x00\x01\x00\x00\x87."));
  assert.ok(v instanceof PickleTuple);
  assert.equal(v.items[0], v.items[1]);
  assert.equal(v.items[1], v.items[2]);
});

Deno.test("unpickle() reads protocol 4 FRAME, SHORT_BINUNICODE and MEMOIZE", () => {
  // pickle.dumps(('x',), protocol=4)
  const v = unpickle(b("\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x01x\x94\x85\x94."));
  assert.deepEqual(v, new PickleTuple(["x"]));
});

Deno.test("unpickle() reads BINUNICODE8 and UTF-8 text", () => {
  const v = unpickle(b("\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00\xc3\xa9."));
  assert.equal(v, "\u00e9");
});

Deno.test("unpickle() calls an allowed global through GLOBAL and REDUCE, and BUILD sets attributes", () => {
  // pickle.dumps(collections.OrderedDict(a=1), protocol=2), plus a BUILD with {'x': 2}
  const globals = new Map<string, PickleGlobalSpec>([
    ["collections.OrderedDict", { call: () => new PickleDict("collections.OrderedDict") }],
  ]);
  const v = unpickle(
    b("\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aq\x02K\x01s}X\x01\x00\x00\x00xK\x02sb."),
    { globals },
  );
  assert.ok(v instanceof PickleDict);
  assert.equal(v.className, "collections.OrderedDict");
  assert.equal(v.entries.get("a"), 1);
  assert.equal(v.attributes.get("x"), 2);
});

Deno.test("unpickle() resolves STACK_GLOBAL against the allow-list", () => {
  const globals = new Map<string, PickleGlobalSpec>([["torch.FloatStorage", {}]]);
  const v = unpickle(b("\x80\x04\x8c\x05torch\x8c\x0cFloatStorage\x93."), { globals });
  assert.ok(v instanceof PickleGlobal);
  assert.equal(v.qualifiedName, "torch.FloatStorage");
});

Deno.test("unpickle() hands BINPERSID ids to persistentLoad", () => {
  const seen: PickleValue[] = [];
  const v = unpickle(b("\x80\x02X\x01\x00\x00\x000\x85Q."), {
    persistentLoad: (pid) => {
      seen.push(pid);
      return "loaded";
    },
  });
  assert.equal(v, "loaded");
  assert.deepEqual(seen, [new PickleTuple(["0"])]);
});

Deno.test("unpickle() refuses os.system through GLOBAL+REDUCE, naming it and its offset", () => {
  // pickle.dumps of an object whose __reduce__ returns (os.system, ('ls',))
  const evil = b("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.");
  rejects(() => unpickle(evil), 2, /global: .*found os\.system/);
  rejects(() => unpickle(evil, { globals: stateDictGlobals("x") }), 2, /os\.system/);
});

Deno.test("unpickle() refuses os.system through STACK_GLOBAL", () => {
  const evil = b("\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x02ls\x85R.");
  rejects(() => unpickle(evil, { globals: stateDictGlobals("x") }), 14, /os\.system/);
});

Deno.test("unpickle() refuses a global whose name reaches into an attribute", () => {
  const globals = new Map<string, PickleGlobalSpec>([["torch._utils._rebuild_tensor_v2", {}]]);
  rejects(
    () => unpickle(b("\x80\x02ctorch\n_utils._rebuild_tensor_v2\n."), { globals }),
    2,
    /global/,
  );
});

Deno.test("unpickle() refuses REDUCE on a data-only global", () => {
  const globals = stateDictGlobals("x");
  rejects(
    () => unpickle(b("\x80\x02ctorch\nFloatStorage\n)R."), { globals }),
    23,
    /REDUCE callable.*data only/,
  );
});

Deno.test("unpickle() refuses unknown and unsupported opcodes, naming them", () => {
  rejects(() => unpickle(b("\x80\x02\xff.")), 2, /opcode: .*found 0xff$/);
  rejects(() => unpickle(b("\x80\x02)}\x81.")), 4, /found 0x81 \(NEWOBJ, not supported\)/);
  rejects(() => unpickle(b("\x80\x02S'x'\n.")), 2, /STRING/);
});

Deno.test("unpickle() refuses protocols other than 2 to 5", () => {
  rejects(() => unpickle(b("\x80\x06K\x01.")), 1, /protocol: expected 2 to 5, found 6/);
});

Deno.test("unpickle() rejects a truncated stream", () => {
  rejects(() => unpickle(b("\x80\x02K\x01")), 4, /opcode: .*truncated/);
  rejects(
    () => unpickle(b("\x80\x02X\x10\x00\x00\x00ab.")),
    3,
    /BINUNICODE length: expected at most/,
  );
  rejects(() => unpickle(b("\x80\x02J\x01\x00")), 3, /BININT.*truncated/);
  rejects(() => unpickle(b("\x80\x02cos\nsys")), 6, /GLOBAL name: expected a line/);
  rejects(
    () => unpickle(b("\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00K\x01.")),
    3,
    /frame length/,
  );
});

Deno.test("unpickle() rejects a memo reference out of range", () => {
  rejects(
    () => unpickle(b("\x80\x02K\x01q\x00h\x05.")),
    6,
    /memo reference: .*found 5 \(never stored\)/,
  );
  rejects(() => unpickle(b("\x80\x02j\xff\xff\xff\xff.")), 2, /memo reference/);
});

Deno.test("unpickle() bounds the memo index and the stack", () => {
  rejects(
    () => unpickle(b("\x80\x02K\x01r\xff\xff\xff\x7f."), { maxMemo: 1000 }),
    4,
    /memo index: expected at most 1000/,
  );
  rejects(() => unpickle(b("\x80\x02K\x01K\x01K\x01\x87."), { maxStack: 2 }), 6, /stack limit/);
  rejects(() => unpickle(b("\x80\x02((((K\x01."), { maxStack: 3 }), 5, /stack limit/);
});

Deno.test("unpickle() rejects stack misuse: popping past a MARK, a missing MARK, leftovers at STOP", () => {
  rejects(
    () => unpickle(b("\x80\x02K\x01(\x85.")),
    5,
    /TUPLE1: expected a value on the stack, found a MARK/,
  );
  rejects(() => unpickle(b("\x80\x02K\x01t.")), 4, /TUPLE: expected a MARK/);
  rejects(() => unpickle(b("\x80\x02K\x01K\x02.")), 6, /STOP: expected an otherwise empty stack/);
  rejects(() => unpickle(b("\x80\x02.")), 2, /STOP: expected a value/);
});

Deno.test("unpickle() rejects type errors: SETITEM on a list, APPEND on a dict, odd SETITEMS, unhashable key", () => {
  rejects(() => unpickle(b("\x80\x02]K\x01K\x02s.")), 7, /SETITEM target: expected a dict/);
  rejects(() => unpickle(b("\x80\x02}K\x01a.")), 5, /APPEND target: expected a list/);
  rejects(() => unpickle(b("\x80\x02}(K\x01u.")), 6, /SETITEMS: expected key\/value pairs/);
  rejects(() => unpickle(b("\x80\x02})K\x01s.")), 6, /dict key/);
});

Deno.test("unpickle() refuses BUILD on a plain dict and persistent ids without a resolver", () => {
  rejects(() => unpickle(b("\x80\x02}}b.")), 4, /BUILD target/);
  rejects(() => unpickle(b("\x80\x02K\x01Q.")), 4, /persistent id/);
});

Deno.test("unpickle() rejects invalid UTF-8 in a string", () => {
  rejects(() => unpickle(b("\x80\x02\x8c\x01\xff.")), 4, /valid UTF-8/);
});
