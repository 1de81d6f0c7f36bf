/**
 * The CLI's file access (cli/files.ts) on everything a path can name besides a good regular
 * file: a full disk, a parent that is a file, a name too long, symlink loops, sockets, FIFOs,
 * devices, huge sparse files, an output that is an input. Each ends in one stderr line and a
 * non-zero exit (2 usage, 3 format, 4 I/O); none hangs, none reads more than it must (counted
 * through the file layer's read counters), and a failed write leaves the old file as it was.
 */
import assert from "node:assert/strict";
import { failsWithOneLine } from "./helpers/cli.ts";
import { EXIT_FORMAT_ERROR, EXIT_IO_ERROR, EXIT_USAGE_ERROR, IoError } from "../ggml/errors.ts";
import {
  MODEL_FILE,
  type OutputFs,
  readCounters,
  readInputFile,
  resetReadCounters,
  writeOutputFile,
} from "../cli/files.ts";

const dir = Deno.makeTempDirSync({ prefix: "ggufc-cli-files-" });
const at = (name: string) => `${dir}/${name}`;
const MODEL = new URL("../models/mnist-fc.gguf", import.meta.url).pathname;
const modelBytes = Deno.readFileSync(MODEL);

function tempFiles(): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ggufc-tmp"));
}

// --- outputs the operating system refuses ---------------------------------------------------

Deno.test("-o to a full disk is one line and exit 4 for compile, graph, export and eval --predictions", async () => {
  const full = (ext: string) => {
    const p = at(`full.${ext}`);
    Deno.symlinkSync("/dev/full", p);
    return p;
  };
  const images = at("one-idx3-ubyte"), labels = at("one-idx1-ubyte");
  Deno.writeFileSync(images, idx(0x803, [1, 28, 28], new Uint8Array(784)));
  Deno.writeFileSync(labels, idx(0x801, [1], new Uint8Array([7])));
  for (
    const args of [
      ["compile", MODEL, "-o", full("ts")],
      ["graph", MODEL, "--stage", "source", "-o", full("dot")],
      ["export", MODEL, "--onnx", "-o", full("onnx")],
      ["eval", MODEL, "--images", images, "--labels", labels, "--predictions", full("tsv")],
    ]
  ) {
    await failsWithOneLine(
      args,
      EXIT_IO_ERROR,
      /cannot write '.*full\.\w+': no space left on device$/,
    );
  }
});

Deno.test("-o under a file, with a 300-byte name, or through a symlink loop is one line and exit 4", async () => {
  await failsWithOneLine(
    ["compile", MODEL, "-o", `${MODEL}/x.ts`],
    EXIT_IO_ERROR,
    /mnist-fc\.gguf' is not a directory$/,
  );
  await failsWithOneLine(
    ["compile", MODEL, "-o", at(`${"a".repeat(300)}.ts`)],
    EXIT_IO_ERROR,
    /file name too long$/,
  );
  Deno.symlinkSync(at("loop-b.ts"), at("loop-a.ts"));
  Deno.symlinkSync(at("loop-a.ts"), at("loop-b.ts"));
  await failsWithOneLine(
    ["compile", MODEL, "-o", at("loop-a.ts")],
    EXIT_IO_ERROR,
    /too many levels of symbolic links$/,
  );
  await failsWithOneLine(["info", at("loop-a.ts")], EXIT_IO_ERROR, /cannot read .*symbolic links$/);
});

// --- inputs that are not regular files --------------------------------------------------------

Deno.test("a FIFO, a socket, a device or a folder as the model is one line and exit 2, without opening it", async () => {
  const fifo = at("model.fifo");
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(mk.code, 0);
  const sock = at("model.sock");
  const listener = Deno.listen({ transport: "unix", path: sock });
  try {
    resetReadCounters();
    // eval reads the model first (a Magika model takes other options), so nothing is opened.
    for (const cmd of ["info", "compile", "graph", "eval"]) {
      const extra = cmd === "compile"
        ? ["-o", at("x.ts")]
        : cmd === "graph"
        ? ["-o", at("x.dot")]
        : [];
      await failsWithOneLine(
        [cmd, fifo, ...extra],
        EXIT_USAGE_ERROR,
        /is a named pipe \(FIFO\), not a/,
      );
      await failsWithOneLine(
        [cmd, sock, ...extra],
        EXIT_USAGE_ERROR,
        /is a socket, not a regular file/,
      );
    }
    await failsWithOneLine(["info", "/dev/zero"], EXIT_USAGE_ERROR, /is a character device, not a/);
    await failsWithOneLine(["info", dir], EXIT_USAGE_ERROR, /is a directory/);
    assert.equal(readCounters.files, 0, "no file was opened");
  } finally {
    listener.close();
  }
});

Deno.test("a sparse file over the model limit is refused from its size, one under it from its first 4 bytes", async () => {
  const huge = at("huge.gguf");
  const f = Deno.openSync(huge, { write: true, create: true });
  f.truncateSync(5 * 2 ** 30);
  f.close();
  resetReadCounters();
  await failsWithOneLine(
    ["info", huge],
    EXIT_FORMAT_ERROR,
    /byte 0: file size: expected at most 536870912 bytes for a model file, found 5368709120/,
  );
  assert.equal(readCounters.bytesRead, 0);

  const big = at("big.gguf"); // 300 MiB of zeros, under the limit: the magic decides
  const g = Deno.openSync(big, { write: true, create: true });
  g.truncateSync(300 * 2 ** 20);
  g.close();
  resetReadCounters();
  await failsWithOneLine(
    ["compile", big, "-o", at("big.ts")],
    EXIT_FORMAT_ERROR,
    /byte 0: magic: .*00 00/,
  );
  assert.equal(readCounters.bytesRead, 4, "only the magic was read");
});

Deno.test("readInputFile() reads a real model whole, in as many bytes as it has", async () => {
  resetReadCounters();
  const bytes = await readInputFile(MODEL, MODEL_FILE);
  assert.deepEqual(bytes, modelBytes);
  assert.equal(readCounters.bytesRead, modelBytes.length);
});

// --- outputs that are inputs ----------------------------------------------------------------

Deno.test("an output that is an input of the same command is refused with exit 2, the input intact", async () => {
  const m = at("m.gguf");
  Deno.writeFileSync(m, modelBytes);
  const js = at("m.js"), dot = at("m.dot"), onnx = at("m.onnx"), img = at("img-idx3-ubyte");
  Deno.writeTextFileSync(js, "export const info = {};\n");
  Deno.writeTextFileSync(dot, "digraph {}\n");
  Deno.writeFileSync(onnx, new Uint8Array([8, 1]));
  Deno.writeFileSync(img, idx(0x803, [1, 28, 28], new Uint8Array(784)));
  Deno.symlinkSync(m, at("link.tsv"));
  const before = [m, js, dot, onnx, img].map((p) => Deno.readFileSync(p));
  for (
    const args of [
      ["compile", js, "-o", js],
      ["compile", js, "-o", at("m.ts"), "--js"], // --js writes m.js next to m.ts
      ["graph", dot, "-o", dot],
      ["export", onnx, "--onnx", "-o", onnx],
      ["eval", m, "--predictions", m],
      ["eval", m, "--predictions", at("link.tsv")],
      ["eval", m, "--images", img, "--predictions", img],
    ]
  ) {
    await failsWithOneLine(args, EXIT_USAGE_ERROR, /cannot write '.*': it is (an|the) input/);
  }
  assert.deepEqual([m, js, dot, onnx, img].map((p) => Deno.readFileSync(p)), before);
});

// --- atomic writes --------------------------------------------------------------------------

/** The real calls, with writes failing after `limit` bytes as a full disk does. */
function diskFullAfter(limit: number): OutputFs {
  let written = 0;
  return {
    open: async (p, o) => {
      const file = await Deno.open(p, o);
      const write = file.write.bind(file);
      file.write = async (b: Uint8Array) => {
        if (written + b.length > limit) {
          const room = limit - written;
          if (room <= 0) throw new Error("No space left on device (os error 28)");
          written += room;
          return await write(b.subarray(0, room));
        }
        written += b.length;
        return await write(b);
      };
      return file;
    },
    rename: (a, b) => Deno.rename(a, b),
    remove: (p) => Deno.remove(p),
  };
}

Deno.test("a write failing midway leaves the old file byte for byte and no temporary file", async () => {
  const out = at("atomic.ts");
  const old = new Uint8Array(102_399).map((_, i) => i % 251);
  Deno.writeFileSync(out, old);
  const fresh = new Uint8Array(200_000).fill(7);
  await assert.rejects(
    writeOutputFile(out, fresh, { fs: diskFullAfter(65_536) }),
    (e) => e instanceof IoError && /no space left on device/.test(e.message),
  );
  assert.deepEqual(Deno.readFileSync(out), old);
  assert.deepEqual(tempFiles(), []);

  const failingRename: OutputFs = {
    ...diskFullAfter(Infinity),
    rename: () => Promise.reject(new Error("Input/output error (os error 5)")),
  };
  await assert.rejects(writeOutputFile(out, fresh, { fs: failingRename }), /input\/output error/);
  assert.deepEqual(Deno.readFileSync(out), old);
  assert.deepEqual(tempFiles(), []);

  await writeOutputFile(out, fresh);
  assert.deepEqual(Deno.readFileSync(out), fresh);
  assert.deepEqual(tempFiles(), []);
});

Deno.test("writing through a symlink replaces its target and keeps the link", async () => {
  const target = at("target.ts"), link = at("via-link.ts");
  Deno.writeTextFileSync(target, "old");
  Deno.symlinkSync(target, link);
  await writeOutputFile(link, "new");
  assert.equal(Deno.readTextFileSync(target), "new");
  assert.ok(Deno.lstatSync(link).isSymlink);
});

// --- number flags ---------------------------------------------------------------------------

Deno.test("a negative number flag says it is out of range, not that the argument is ambiguous", async () => {
  await failsWithOneLine(
    ["train", "fc", "-o", at("t.gguf"), "--epochs", "-1"],
    EXIT_USAGE_ERROR,
    /--epochs must be an integer from 1 to 1000, got '-1'$/,
  );
  await failsWithOneLine(["web", "--port", "-1"], EXIT_USAGE_ERROR, /--port must be .* got '-1'$/);
  await failsWithOneLine(
    ["run", MODEL, "--index", "-1"],
    EXIT_USAGE_ERROR,
    /--index must be .* got '-1'$/,
  );
  await failsWithOneLine(
    ["graph", MODEL, "-o", at("g.png"), "--scale", "-0.5"],
    EXIT_USAGE_ERROR,
    /--scale must be a number from 0.25 to 8, got '-0.5'$/,
  );
});

/** An IDX file: big-endian magic, dims, then the data. */
function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, magic);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

Deno.test({
  name: "cli_files_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
