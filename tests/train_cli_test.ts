/** `ggufc train`: command-line mistakes are UsageErrors; a tiny run writes both files. */
import assert from "node:assert/strict";
import { trainCommand } from "../cli/train.ts";
import { UsageError } from "../ggml/errors.ts";
import { metaString, readGguf } from "../ggml/gguf_reader.ts";
import { readLegacyGgml } from "../ggml/legacy.ts";

for (
  const [args, message] of [
    [["cnn"], /needs -o/],
    [["rnn", "-o", "x.gguf"], /ARCH must be one of fc, cnn, cnn-small, got 'rnn'/],
    [["cnn", "-o", "x.gguf", "--legacy", "x.bin"], /only for the fc net/],
    [["fc", "-o", "x.gguf", "--epochs", "0"], /--epochs must be an integer/],
    [["fc", "-o", "x.gguf", "--layout", "keras"], /--layout must be one of seed, ggml/],
    [["fc", "-o", "/no/such/dir/x.gguf"], /directory '\/no\/such\/dir' does not exist/],
  ] as const
) {
  Deno.test(`train ${args.join(" ")} is a UsageError`, async () => {
    await assert.rejects(() => trainCommand.run([...args]), (e) => {
      assert(e instanceof UsageError);
      assert.match(e.message, message);
      return true;
    });
  });
}

Deno.test("train fc --legacy writes a GGUF and the seed's legacy file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = console.log;
    console.log = () => {};
    try {
      await trainCommand.run([
        "fc",
        "-o",
        `${dir}/fc.gguf`,
        "--legacy",
        `${dir}/fc.bin`,
        "--images",
        "64",
        "--epochs",
        "1",
        "--batch",
        "32",
      ]);
    } finally {
      console.log = log;
    }
    const f = readGguf(await Deno.readFile(`${dir}/fc.gguf`));
    assert.equal(metaString(f, "general.architecture"), "mnist-fc");
    assert.equal(readLegacyGgml(await Deno.readFile(`${dir}/fc.bin`)).length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
