/**
 * Chromium driven by playwright-core, launched the one way every browser test uses: headless, no
 * sandbox (CI runs as root), and no background traffic (this machine's network is closed).
 * Playwright makes its own fresh profile, so no --user-data-dir is passed.
 *
 * The browser is Debian's `/usr/bin/chromium` where it is installed; elsewhere it is the build
 * shipped inside the npm package `@sparticuz/chromium`, so a machine with only Deno (or Node.js)
 * and the npm registry runs the browser tests: no system package, no browser download.
 *
 * @module
 */
import { tmpdir } from "node:os";
import sparticuz from "@sparticuz/chromium";
import { type Browser, chromium } from "playwright-core";

/** Where `apt-get install chromium` puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** The project's flags, added for either browser. */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * Flags of `@sparticuz/chromium`'s recommended list that are left out. Most change what a page may
 * do: they suit a scraper, not a test of our pages (cross-origin isolation, origin checks and
 * SharedArrayBuffer would differ from a user's browser). `--single-process` suits a serverless
 * function's process limit, but closing a page then loses the browser's next new page.
 */
const LEFT_OUT = [
  "--single-process",
  "--disable-web-security",
  "--allow-running-insecure-content",
  "--disable-site-isolation-trials",
  "--enable-features=SharedArrayBuffer",
];

/** Whether {@link CHROMIUM} exists. */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/**
 * The npm package's browser, unpacked on first use into the temp folder (about 3 s).
 *
 * The package treats an existing `<tmp>/chromium` as unpacked, so the test files that run in
 * parallel (and other checkouts on the machine) take an exclusive file lock while one of them
 * unpacks: otherwise a second process could launch a half-written binary.
 */
async function npmChromium(): Promise<string> {
  const lockPath = `${tmpdir()}/ggufc-sparticuz-chromium.lock`;
  const lock = await Deno.open(lockPath, { create: true, write: true });
  try {
    await lock.lock(true);
    return await sparticuz.executablePath();
  } finally {
    lock.close(); // closing releases the lock
  }
}

/** Launches headless Chromium (Debian's, else the npm package's) with the project's flags. */
export async function launchChromium(): Promise<Browser> {
  if (chromiumInstalled()) {
    return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  }
  const args = sparticuz.args.filter((a) => !LEFT_OUT.includes(a));
  return await chromium.launch({
    executablePath: await npmChromium(),
    headless: true,
    args: [...args, ...FLAGS.filter((f) => !args.includes(f))],
  });
}
