/**
 * Debian's Chromium driven by playwright-core, launched the one way every browser test uses:
 * headless, no sandbox (CI runs as root), and no background traffic (this machine's network is
 * closed). Playwright makes its own fresh profile, so no --user-data-dir is passed.
 *
 * @module
 */
import { type Browser, chromium } from "playwright-core";

/** Where `apt-get install chromium` puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether {@link CHROMIUM} exists. */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Launches headless Chromium with the project's flags. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}
