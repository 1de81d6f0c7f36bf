import assert from "node:assert/strict";
import { webCommand } from "../cli/web.ts";
import { UsageError } from "../ggml/errors.ts";

Deno.test("ggufc web rejects a bad port, unknown options and stray arguments with UsageErrors", async () => {
  await assert.rejects(webCommand.run(["--port", "x"]), UsageError);
  await assert.rejects(webCommand.run(["--port", "70000"]), /from 0 to 65535/);
  await assert.rejects(webCommand.run(["--bogus"]), UsageError);
  await assert.rejects(webCommand.run(["models/mnist-cnn.gguf"]), /unexpected argument/);
});
