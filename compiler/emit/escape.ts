/**
 * The only way a string from a model file (name, architecture, layout) reaches generated code:
 * as a JS string literal. JSON.stringify handles quotes, backslashes and control characters;
 * on top of it `<` becomes `\u003c` (so `</script>` or `<!--` cannot end an inline script) and
 * U+2028 / U+2029 are escaped (line terminators in older JS). Model strings never go into
 * identifiers or comments.
 *
 * @module
 */

/**
 * A JS/TS string literal for `s`, safe anywhere an expression may appear.
 *
 * @param s any string
 * @returns the literal, with its quotes
 * @example
 * ```ts
 * import { jsString } from "./escape.ts";
 * console.log(jsString("</script>")); // "\u003c/script>"
 * ```
 */
export function jsString(s: string): string {
  return JSON.stringify(String(s))
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * A literal for a JSON-like value (strings through {@link jsString}), keys in the given order.
 *
 * @param v a string, finite number, boolean, null, array or plain object of those
 * @returns the literal
 */
export function jsValue(v: unknown): string {
  if (typeof v === "string") return jsString(v);
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot emit the number ${v}`);
    return String(v);
  }
  if (typeof v === "boolean" || v === null) return String(v);
  if (Array.isArray(v)) return `[${v.map(jsValue).join(", ")}]`;
  if (typeof v === "object" && v !== undefined) {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{ ${entries.map(([k, x]) => `${jsString(k)}: ${jsValue(x)}`).join(", ")} }`;
  }
  throw new Error(`cannot emit a value of type ${typeof v}`);
}
