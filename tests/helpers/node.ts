/**
 * Runs a script in Node.js (the `node` on PATH, 20 here) for the tests that check an emitted
 * module outside Deno: the script prints one JSON line, which is returned parsed.
 */
import assert from "node:assert/strict";

/**
 * Writes `source` to `path`, runs `node path ...args` and parses what it printed.
 *
 * @param path where the script goes (an `.mjs` in the test's temp folder)
 * @param source the script; it must print one JSON value
 * @param args its arguments
 * @returns the parsed JSON
 * @throws AssertionError with node's stderr when it exits non-zero or runs over 60 s (a module
 *   that left a worker running would keep node alive: fail instead of hanging)
 */
export async function runNodeScript(
  path: string,
  source: string,
  args: readonly string[],
): Promise<unknown> {
  Deno.writeTextFileSync(path, source);
  const out = await new Deno.Command("node", {
    args: [path, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.equal(out.code, 0, `node ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
