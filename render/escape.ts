/**
 * The one escaping function for text placed inside DOT labels. Tensor names come from model
 * files written by strangers, so every label goes through {@link dotText}: it is safe inside a
 * double-quoted DOT string, inside a record label (where `{ } | < >` are field syntax) and in a
 * plain label alike.
 *
 * @module
 */

/** Longest name (in UTF-16 code units) drawn before it is cut with an ellipsis. */
export const MAX_LABEL_CHARS = 48;

// C0 controls other than newline, DEL and C1 controls: drawn as U+FFFD instead.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
const NEWLINE = /\r\n|\r|\n/g;
const SPECIAL = /[\\{}|<>"]/g;

/**
 * Makes `text` safe to place between the double quotes of a DOT label, record or plain: `\`,
 * `"`, `{`, `}`, `|`, `<`, `>` get a backslash, newlines become DOT's `\n` line break, other
 * control characters become U+FFFD, and text longer than `max` is cut with an ellipsis.
 *
 * @param text any string, e.g. a tensor name read from a model file
 * @param max the most characters to keep (default {@link MAX_LABEL_CHARS})
 * @returns the escaped text, without surrounding quotes
 * @example
 * ```ts
 * import { dotText } from "./escape.ts";
 * console.log(dotText('fc1.{w}|"x"')); // fc1.\{w\}\|\"x\"
 * ```
 */
export function dotText(text: string, max = MAX_LABEL_CHARS): string {
  let s = text.replace(CONTROL, "\uFFFD");
  if (s.length > max) s = s.slice(0, Math.max(1, max - 1)).replace(/[\uD800-\uDBFF]$/, "") + "…";
  // Lone surrogates would become U+FFFD in UTF-8 anyway; make that explicit.
  s = s.replace(
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    "\uFFFD",
  );
  return s.replace(SPECIAL, (c) => "\\" + c).replace(NEWLINE, "\\n");
}
