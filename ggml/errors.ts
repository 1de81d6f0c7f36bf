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
 * {@link printable} for text of several lines: each line escaped, the line breaks kept. Strings
 * from a file embedded in the text (names that may hold a line break) are given in `fromFile`:
 * each is escaped as a whole first, so a name cannot forge a line of its own.
 *
 * @param text lines joined with "\n"
 * @param fromFile the file's strings that may appear in `text`
 * @returns the same lines, each made printable
 * @example
 * ```ts
 * import { printableLines } from "./errors.ts";
 * console.log(printableLines("model: a\nb\nok", ["a\nb"])); // model: a\x0ab, then ok
 * ```
 */
export function printableLines(text: string, fromFile: readonly string[] = []): string {
  const hostile = [...new Set(fromFile)].filter((s) => s.search(UNPRINTABLE) >= 0)
    .sort((a, b) => b.length - a.length);
  for (const s of hostile) text = text.split(s).join(printable(s));
  return text.split("\n").map(printable).join("\n");
}

/**
 * JSON text made as safe for a terminal as {@link printable} text, and still the same JSON:
 * the characters JSON.stringify leaves raw (DEL, C1 controls, U+2028/2029, bidi controls)
 * become `\uXXXX` escapes, which a JSON reader decodes back to the same string.
 *
 * @param json output of JSON.stringify
 * @returns the same JSON value, with no character a terminal acts on
 * @example
 * ```ts
 * import { printableJson } from "./errors.ts";
 * console.log(printableJson(JSON.stringify({ name: "a\u202eb" }))); // {"name":"a\u202eb"}
 * ```
 */
export function printableJson(json: string): string {
  return json.replace(
    JSON_LEAVES_RAW,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The characters of {@link UNPRINTABLE} that JSON.stringify does not escape in strings. */
const JSON_LEAVES_RAW = /[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * A wrong command line, option value or missing file: the message alone says what to change.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * const e = new UsageError("--index must be between 0 and 9999, got 12000");
 * console.log(e.message);
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
