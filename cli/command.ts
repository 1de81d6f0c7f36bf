/**
 * What every CLI command provides, and the shared option parsing: `node:util` parseArgs with
 * its errors turned into {@link UsageError}s, and `--help` on every command.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../ggml/errors.ts";

/** One `ggufc <command>`. */
export interface Command {
  /** The word after `ggufc`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text (usage line, then options). */
  readonly help: string;
  /**
   * Runs the command; throws {@link UsageError} or FormatError for user mistakes. A command that
   * reports its failures itself (one line per input) returns the exit code instead.
   */
  run(args: string[]): Promise<void | number>;
}

/** Option spec for {@link parseCommandArgs}, as `node:util` parseArgs takes it. */
export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `args` strictly; unknown options and missing values become one-line UsageErrors.
 *
 * @param command the command name, for messages
 * @param args the arguments after the command name
 * @param options the option spec
 * @returns option values and positionals
 */
export function parseCommandArgs<O extends OptionSpec>(
  command: string,
  args: string[],
  options: O,
) {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    // Keep node's first sentence ("Unknown option '--x'"), drop its advice about '--'.
    const msg =
      (e instanceof Error ? e.message : String(e)).split("\n")[0]!.split(". To specify")[0];
    throw new UsageError(`${msg} (see 'ggufc ${command} --help')`);
  }
}

/**
 * `--epochs -1` as `--epochs=-1`: parseArgs calls a value starting with '-' "ambiguous", so a
 * negative number would be reported as a missing value instead of as out of range.
 */
function joinNegativeValues(args: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!, next = args[i + 1];
    const name = a.startsWith("--")
      ? a.slice(2)
      : Object.keys(options).find((k) => a === `-${options[k]!.short}`);
    if (
      name !== undefined && options[name]?.type === "string" && next !== undefined &&
      /^-(\d|\.\d|Infinity)/.test(next)
    ) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Parses an integer option, with bounds; `undefined` stays `undefined`. */
export function intOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  return boundedNumber(name, value, min, max, true);
}

/** Parses a number option, with bounds; `undefined` stays `undefined`. */
export function numberOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  return boundedNumber(name, value, min, max, false);
}

function boundedNumber(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const ok = integer ? Number.isInteger(n) : Number.isFinite(n);
  if (!ok || value.trim() === "" || n < min || n > max) {
    const what = integer ? "an integer" : "a number";
    throw new UsageError(`--${name} must be ${what} from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Parses an option restricted to a set of words. */
export function choiceOption<T extends string>(
  name: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got '${value}'`);
  }
  return value as T;
}

export { checkOutputPath, MODEL_FILE, readInputFile, writeOutputFile } from "./files.ts";
