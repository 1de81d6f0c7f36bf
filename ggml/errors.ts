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
 * Exit code of the CLI when the operating system fails a read or a write (disk full, I/O
 * error, a symlink loop, a name too long, a path through a file).
 */
export const EXIT_IO_ERROR = 4;

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
 * Characters a terminal acts on instead of showing: C0 controls (NUL, ESC, CR, LF, ...), DEL,
 * C1 controls, the Unicode line/paragraph separators, and the bidirectional marks, embeddings,
 * overrides and isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069) that reorder what
 * follows them on screen.
 */
// deno-lint-ignore no-control-regex
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * Text from a file (names, keys, strings) made safe for one terminal line: every character in
 * {@link UNPRINTABLE} becomes a `\xNN` / `\uNNNN` escape, so a crafted name can neither split
 * the line, send escape sequences nor reorder the text around it. Every string from a file
 * that the CLI prints goes through here.
 *
 * @param text any string
 * @returns the string with those characters escaped
 * @example
 * ```ts
 * import { printable } from "./errors.ts";
 * console.log(printable("a\nb\x1b[31m")); // a\x0ab\x1b[31m
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
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

/**
 * The operating system failed a read or a write of `path` (disk full, I/O error, symlink loop,
 * name too long, a parent that is a file, ...). The CLI prints the message as one line and
 * exits with {@link EXIT_IO_ERROR}.
 *
 * @example
 * ```ts
 * import { IoError } from "./errors.ts";
 * const e = new IoError("out.ts", "write", "no space left on device");
 * console.log(e.message); // cannot write 'out.ts': no space left on device
 * ```
 */
export class IoError extends Error {
  /**
   * @param path the path as the user gave it
   * @param action what failed
   * @param reason the operating system's reason, in words
   */
  constructor(readonly path: string, readonly action: "read" | "write", readonly reason: string) {
    super(printable(`cannot ${action} '${path}': ${reason}`));
    this.name = "IoError";
  }
}
