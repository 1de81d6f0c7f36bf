/**
 * Runs the CLI in-process, as the command line would (`main(args)` from main.ts), with what it
 * prints captured: for the tests of commands and of their error lines.
 */
import assert from "node:assert/strict";
import { main } from "../../main.ts";

/** What a run of `main(args)` gave. */
export interface CliRun {
  readonly code: number;
  /** What went to console.log / console.info, lines joined by "\n". */
  readonly out: string;
  /** What went to console.error / console.warn, lines joined by "\n". */
  readonly err: string;
  /** `err` as its non-empty lines. */
  readonly errLines: readonly string[];
}

/**
 * Runs `main(args)` with the console captured (and restored after).
 *
 * @param args the command line after `ggufc`
 * @returns exit code and output
 */
export async function runMain(args: readonly string[]): Promise<CliRun> {
  const out: string[] = [], err: string[] = [];
  const { error, log, warn, info } = console;
  console.log = console.info = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = console.warn = (...a: unknown[]) => void err.push(a.join(" "));
  try {
    const code = await main([...args]);
    const e = err.join("\n");
    return { code, out: out.join("\n"), err: e, errLines: e.split("\n").filter((l) => l !== "") };
  } finally {
    Object.assign(console, { error, log, warn, info });
  }
}

/**
 * Asserts exit `code` and exactly one stderr line `ggufc <command>: ...` matching `pattern`,
 * with no stack frame in it.
 *
 * @returns the line
 */
export async function failsWithOneLine(
  args: readonly string[],
  code: number,
  pattern: RegExp,
): Promise<string> {
  const r = await runMain(args);
  assert.equal(r.code, code, `exit code of ggufc ${args.join(" ")}: ${r.errLines.join(" | ")}`);
  assert.equal(r.errLines.length, 1, `one line, got:\n${r.errLines.join("\n")}`);
  const line = r.errLines[0]!;
  assert.ok(line.startsWith(`ggufc ${args[0]}: `), line);
  assert.doesNotMatch(line, /\bat .*\.ts:\d+/, "no stack frame");
  assert.match(line, pattern);
  return line;
}
