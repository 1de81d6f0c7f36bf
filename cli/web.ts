/**
 * `ggufc web`: builds the in-browser MNIST demo (web/build.ts) and serves it on 127.0.0.1
 * (web/serve.ts). Also `deno task web`.
 *
 * @module
 */
import { type Command, intOption, parseCommandArgs } from "./command.ts";
import { UsageError } from "../ggml/errors.ts";
import { serveWeb } from "../web/serve.ts";

const help = `usage: ggufc web [--port N] [--no-build] [--force]

Builds the MNIST demo page into web/dist (compiling models/mnist-cnn.gguf, mnist-fc.gguf and
mnist-cnn-small.gguf when they or the compiler changed, packing the test set, bundling with
esbuild) and serves it on http://127.0.0.1:N/ until Ctrl-C.

options:
  --port N     port to listen on (default 8080; 0 picks a free one)
  --no-build   serve web/dist as it is
  --force      recompile the models and repack the test set`;

/** The `web` command. */
export const webCommand: Command = {
  name: "web",
  summary: "build and serve the in-browser demo (draw a digit)",
  help,
  async run(args) {
    const { values, positionals } = parseCommandArgs("web", args, {
      port: { type: "string" },
      "no-build": { type: "boolean" },
      force: { type: "boolean" },
    });
    if (positionals.length > 0) {
      throw new UsageError(`web: unexpected argument '${positionals[0]}' (see 'ggufc web --help')`);
    }
    const port = intOption("port", values.port, 0, 65535) ?? 8080;
    if (!values["no-build"]) {
      // Loaded on demand: the build pulls in esbuild, which other commands do not need.
      const { buildWeb } = await import("../web/build.ts");
      await buildWeb({ force: values.force ?? false });
    }
    try {
      await Deno.stat(new URL("../web/dist/index.html", import.meta.url));
    } catch {
      throw new UsageError("web/dist has no built page; run without --no-build first");
    }
    let server;
    try {
      ({ server } = serveWeb({
        port,
        onListen: (url) => console.log(`web: serving the MNIST demo at ${url} (Ctrl-C stops)`),
      }));
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new UsageError(`port ${port} is in use; try --port 0 for a free one`);
      }
      throw e;
    }
    await server.finished;
  },
};
