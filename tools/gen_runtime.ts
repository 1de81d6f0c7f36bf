/**
 * `deno task gen:runtime`: embeds the emitted module's runtime (every `.ts` file in
 * compiler/emit/runtime/) into compiler/emit/runtime_text.generated.ts, by the rule in
 * compiler/emit/runtime_text.ts. Run it after editing a runtime file; a test fails until then.
 *
 * @module
 */
import { renderRuntimeText } from "../compiler/emit/runtime_text.ts";

/** The runtime folder and the generated file. */
export const RUNTIME_DIR = new URL("../compiler/emit/runtime/", import.meta.url);
export const RUNTIME_TEXT_FILE = new URL(
  "../compiler/emit/runtime_text.generated.ts",
  import.meta.url,
);

/**
 * Every runtime file's text, by name.
 *
 * @returns name -> text, for {@link renderRuntimeText}
 */
export function readRuntimeFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of Deno.readDirSync(RUNTIME_DIR)) {
    if (e.isFile && e.name.endsWith(".ts")) {
      files[e.name] = Deno.readTextFileSync(new URL(e.name, RUNTIME_DIR));
    }
  }
  return files;
}

if (import.meta.main) {
  const text = renderRuntimeText(readRuntimeFiles());
  Deno.writeTextFileSync(RUNTIME_TEXT_FILE, text);
  console.log(`wrote ${RUNTIME_TEXT_FILE.pathname} (${text.length} characters)`);
}
