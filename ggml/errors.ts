/**
 * Errors a user can act on. The CLI prints these as one line (no stack trace) and exits with a
 * code of its own per kind; anything else is a bug in ggufc and is reported with its stack.
 *
 * @module
 */

/** Exit code of the CLI for a malformed or hostile input file. */
export const EXIT_FORMAT_ERROR = 3;
/** Exit code of the CLI for a wrong command line or a missing file. */
export const EXIT_USAGE_ERROR = 2;

/**
 * A problem in an input file (GGUF, legacy ggml, IDX, PyTorch state dict): names the file, the
 * byte offset, the field, what was expected and what was found.
 *
 * @example
 * ```ts
 * import { FormatError } from "./errors.ts";
 * const e = new FormatError("m.gguf", 4, "version", "1, 2 or 3", "7");
 * console.log(e.message); // m.gguf: byte 4: version: expected 1, 2 or 3, found 7
 * ```
 */
export class FormatError extends Error {
  /**
   * @param file the file name (or `<memory>`)
   * @param offset the byte offset where the problem is
   * @param field the field being read
   * @param expected what a valid file has there
   * @param found what this file has there
   */
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly field: string,
    readonly expected: string,
    readonly found: string,
  ) {
    super(
      printable(`${file}: byte ${offset}: ${field}: expected ${expected}, found ${found}`),
    );
    this.name = "FormatError";
  }
}

/**
 * Text from a file (names, keys, strings) made safe for a one-line terminal message: control
 * characters (C0, DEL, C1) and the Unicode line/paragraph separators become `\xNN` / `\uNNNN`
 * escapes, so a crafted name can neither split the line nor send escape sequences.
 *
 * @param text any string
 * @returns the string with those characters escaped
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/**
 * A wrong command line, option value or missing file: the message alone says what to change.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError("--index must be between 0 and 9999, got 12000");
 * ```
 */
export class UsageError extends Error {
  /** @param message one line telling the user what to change */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
