/**
 * The CLI on bad input files of every format: one line on stderr starting `ggufc <command>: `,
 * no stack trace, exit code 3 for bad contents (FormatError) and 2 for a bad command line or
 * path (UsageError). Most cases call `main()` in process with console captured; one runs the
 * real `main.ts` to check what a user's terminal sees.
 */
import assert from "node:assert/strict";
import { failsWithOneLine, runMain } from "./helpers/cli.ts";
import { EXIT_FORMAT_ERROR, EXIT_USAGE_ERROR } from "../ggml/errors.ts";
import { caseInput } from "../tools/fuzz/runner.ts";
import { seedsOf } from "../tools/fuzz/seeds.ts";
import { Bytes, ggufHeader } from "./helpers/gguf_builder.ts";
import { fcWeights, legacyOf } from "../testkit/models.ts";
import { buildZip } from "../testkit/torch_fixtures.ts";

const dir = Deno.makeTempDirSync({ prefix: "ggufc-cli-errors-" });
const path = (name: string) => `${dir}/${name}`;
function write(name: string, bytes: Uint8Array): string {
  Deno.writeFileSync(path(name), bytes);
  return path(name);
}

const truncatedGguf = write("truncated.gguf", ggufHeader(3, 1, 0).build().subarray(0, 12));
const badTypeGguf = write(
  "bad-type.gguf",
  ggufHeader(3, 1, 0).str("fc1.weight").u32(1).u64(32).u32(77).u64(0).pad(32).build(),
);
const bigEndianGguf = write(
  "big-endian.gguf",
  new Bytes().raw(0x47, 0x47, 0x55, 0x46).u32be(3).u64(0).u64(0).build(),
);
const empty = write("empty.gguf", new Uint8Array(0));
const legacy = legacyOf(fcWeights(1, 2));
const badLegacy = write("bad-ndims.bin", legacy.slice(0, 8).fill(5, 4, 5));
const truncatedLegacy = write("truncated.bin", legacy.subarray(0, legacy.length - 3));
const goodLegacy = write("good.bin", legacy);
const badImages = write(
  "bad-images-idx3-ubyte",
  new Bytes().u32be(0x803).u32be(5).u32be(28).u32be(28).build(),
);
const badLabels = write("bad-labels-idx1-ubyte", new Bytes().u32be(0x802).u32be(0).build());
const barePickle = write("bare.state_dict", new Uint8Array([0x80, 2, 0x7d, 0x2e]));
const noPkl = write(
  "no-pkl.state_dict",
  buildZip([{ name: "m/version", data: new Uint8Array([51]) }]),
);
const out = (ext: string) => path(`out.${ext}`);

const byte = /: byte \d+: /;

Deno.test("every model command prints one line and exits 3 for a truncated GGUF", async () => {
  for (
    const args of [
      ["info", truncatedGguf],
      ["run", truncatedGguf, "--index", "0"],
      ["eval", truncatedGguf],
      ["compile", truncatedGguf, "-o", out("ts")],
      ["graph", truncatedGguf, "-o", out("dot")],
      ["export", truncatedGguf, "--onnx", "-o", out("onnx")],
    ]
  ) {
    await failsWithOneLine(args, EXIT_FORMAT_ERROR, /truncated/);
  }
});

Deno.test("the CLI names the field and byte of an unknown tensor type, big-endian and empty GGUF files", async () => {
  await failsWithOneLine(
    ["info", badTypeGguf],
    EXIT_FORMAT_ERROR,
    /byte 54: tensor 'fc1\.weight' type: .*unknown \(77\)/,
  );
  await failsWithOneLine(
    ["compile", bigEndianGguf, "-o", out("ts")],
    EXIT_FORMAT_ERROR,
    /byte 4: version: .*big-endian/,
  );
  await failsWithOneLine(["run", empty, "--index", "0"], EXIT_FORMAT_ERROR, /byte 0: magic/);
});

Deno.test("the CLI prints one line and exits 3 for a bad legacy ggml file", async () => {
  await failsWithOneLine(
    ["run", badLegacy, "--index", "0"],
    EXIT_FORMAT_ERROR,
    /byte 4: fc1\.weight n_dims: expected 1 to 4, found 5/,
  );
  await failsWithOneLine(["compile", truncatedLegacy, "-o", out("ts")], EXIT_FORMAT_ERROR, byte);
});

Deno.test("the CLI prints one line and exits 3 for bad IDX images and labels", async () => {
  await failsWithOneLine(
    ["run", goodLegacy, "--images", badImages, "--index", "0"],
    EXIT_FORMAT_ERROR,
    /byte 4: image count/,
  );
  await failsWithOneLine(
    ["eval", goodLegacy, "--images", badImages, "--labels", badLabels],
    EXIT_FORMAT_ERROR,
    byte,
  );
});

Deno.test("the CLI prints one line and exits 3 for a bad PyTorch state dict", async () => {
  await failsWithOneLine(
    ["convert", barePickle, "-o", out("gguf")],
    EXIT_FORMAT_ERROR,
    /bare pickle/,
  );
  await failsWithOneLine(["convert", noPkl, "-o", out("gguf")], EXIT_FORMAT_ERROR, /data\.pkl/);
  await failsWithOneLine(
    ["convert", truncatedGguf, "-o", out("gguf")],
    EXIT_FORMAT_ERROR,
    /torch\.save zip/,
  );
});

Deno.test("the CLI prints one line and exits 2 for a missing file or a folder", async () => {
  for (const cmd of ["info", "run", "compile", "convert"]) {
    const extra = cmd === "compile" || cmd === "convert"
      ? ["-o", out(cmd === "compile" ? "ts" : "gguf")]
      : [];
    await failsWithOneLine(
      [cmd, path("missing.gguf"), ...extra],
      EXIT_USAGE_ERROR,
      /missing\.gguf/,
    );
    await failsWithOneLine([cmd, dir, ...extra], EXIT_USAGE_ERROR, /director|folder/);
  }
});

Deno.test("'ggufc info' and 'ggufc run' end in a result or one line for 80 fuzzed files of each model format", async () => {
  for (const [format, cmds] of [["gguf", ["info", "run"]], ["legacy", ["info", "run"]]] as const) {
    const seeds = seedsOf(format);
    for (let i = 0; i < 80; i++) {
      const file = write(`fuzz-${format}-${i}.bin`, caseInput(format, seeds, 7, i));
      for (const cmd of cmds) {
        const r = await runMain(cmd === "run" ? [cmd, file, "--index", String(i)] : [cmd, file]);
        if (r.code === 0) continue;
        assert.equal(r.code, EXIT_FORMAT_ERROR, `${cmd} on ${format} case ${i}: ${r.errLines}`);
        assert.equal(r.errLines.length, 1, r.errLines.join("\n"));
      }
    }
  }
});

Deno.test("'ggufc convert' and 'ggufc run --images' end in a result or one line for 80 fuzzed state dicts and IDX files", async () => {
  const sd = seedsOf("statedict");
  const idx = seedsOf("idx").filter((s) => s.name.includes("images"));
  for (let i = 0; i < 80; i++) {
    const cases: string[][] = [
      ["convert", write(`fuzz-sd-${i}.bin`, caseInput("statedict", sd, 7, i)), "-o", out("gguf")],
      [
        "run",
        goodLegacy,
        "--images",
        write(`fuzz-idx-${i}`, caseInput("idx", idx, 7, i)),
        "--seed",
        "1",
      ],
    ];
    for (const args of cases) {
      const r = await runMain(args);
      if (r.code === 0) continue;
      assert.ok(
        [EXIT_FORMAT_ERROR, EXIT_USAGE_ERROR].includes(r.code),
        `${args[0]} case ${i}: ${r.errLines}`,
      );
      assert.equal(r.errLines.length, 1, r.errLines.join("\n"));
    }
  }
});

// Regression: an IDX file of 0 images made `run` throw a RangeError and `eval` print NaN
// statistics; labels above 9 gave test_loss=NaN with exit 0.
Deno.test({
  name: "'ggufc run' and 'ggufc eval' refuse an IDX file with no images and labels above 9",
  fn: async () => {
    const none = write(
      "none-idx3-ubyte",
      new Bytes().u32be(0x803).u32be(0).u32be(28).u32be(28).build(),
    );
    const noLabels = write("none-idx1-ubyte", new Bytes().u32be(0x801).u32be(0).build());
    const three = new Bytes().u32be(0x803).u32be(1).u32be(28).u32be(28).build();
    const one = write("one-idx3-ubyte", padZeros(three, 784));
    const bad = write("bad-idx1-ubyte", new Bytes().u32be(0x801).u32be(1).u8(200).build());
    await failsWithOneLine(["run", goodLegacy, "--images", none], EXIT_FORMAT_ERROR, /image/);
    await failsWithOneLine(
      ["eval", goodLegacy, "--images", none, "--labels", noLabels],
      EXIT_FORMAT_ERROR,
      /image/,
    );
    await failsWithOneLine(
      ["eval", goodLegacy, "--images", one, "--labels", bad],
      EXIT_FORMAT_ERROR,
      /label/,
    );
  },
});

// Regression: names from the file (tensor names, keys, ZIP entry names) reached FormatError
// messages raw, so a name holding "\n" split the one-line error and ESC sequences reached the
// terminal; errors.ts printable() escapes them now.
Deno.test({
  name: "a tensor name holding a newline and ESC sequences still gives one escaped stderr line",
  fn: async () => {
    const name = "line1\nggufc: fake second line \x1b[31mRED\x1b[0m";
    const b = ggufHeader(3, 1, 0).str(name).u32(9).u64(1);
    const file = write("control-chars.gguf", padZeros(b.build(), 40));
    await failsWithOneLine(["info", file], EXIT_FORMAT_ERROR, /n_dims/);
    const r = await runMain(["info", file]);
    assert.ok(!r.errLines.join("\n").includes("\x1b"), "no raw ESC on the terminal");
  },
});

function padZeros(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(b.length + n);
  out.set(b);
  return out;
}

Deno.test("the real main.ts prints one stderr line without a stack trace and exits 3", async () => {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "info", badTypeGguf],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(p.stderr).trimEnd().split("\n");
  assert.equal(p.code, EXIT_FORMAT_ERROR);
  assert.deepEqual(stderr.length, 1, stderr.join("\n"));
  assert.match(stderr[0]!, /^ggufc info: .*bad-type\.gguf: byte 54: tensor 'fc1\.weight' type: /);
});

Deno.test({
  name: "cli_errors_test cleans up its temporary folder",
  fn: () => Deno.removeSync(dir, { recursive: true }),
});
