/// <reference lib="dom" />
/**
 * "What is this file?" (web/files.html) in a real browser (testkit/chromium.ts, playwright):
 * real files from ../shared/fixtures/magika (skipped with a note when absent) are picked, and
 * the top label the page shows for each is ggml's (ggml-magika.tsv); four at once run on the
 * worker pool, one alone on the main thread. No request leaves the page with file content: every
 * request is a GET of one of the page's own files, with no body. Screenshot:
 * tests/artifacts/web-files.png.
 */
import assert from "node:assert/strict";
import { launchChromium } from "../testkit/chromium.ts";
import { buildWeb } from "../web/build.ts";
import { serveWeb } from "../web/serve.ts";

const FIXTURE = "../shared/fixtures/magika";
let haveFixtures = true;
try {
  Deno.statSync(`${FIXTURE}/ggml-magika.tsv`);
} catch {
  haveFixtures = false;
  console.log(`note: ${FIXTURE} absent; the "What is this file?" browser test is skipped`);
}

/** Four files of different kinds for the pool, one more alone. */
const BATCH = [
  "tests_data/basic/pdf/magika_test.pdf",
  "tests_data/basic/png/magika_test.png",
  "tests_data/basic/python/code.py",
  "tests_data/basic/json/doc.json",
];
const ALONE = "tests_data/basic/javascript/code.js";
/** What the page may fetch: its own files. */
const PAGE_FILES = ["/files.html", "/files.js", "/magika.js", "/style.css", "/favicon.svg"];

interface Shown {
  name: string;
  label: string;
  time: string;
}

Deno.test({
  name:
    "files.html shows ggml's top label for real files, on the pool and alone, and uploads nothing",
  ignore: !haveFixtures,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const ggml = new Map(
      (await Deno.readTextFile(`${FIXTURE}/ggml-magika.tsv`)).trim().split("\n").map((l) => {
        const [path, label] = l.split("\t");
        return [path!, label!];
      }),
    );
    const outDir = await Deno.makeTempDir({ prefix: "ggufc_web_files_" });
    const ac = new AbortController();
    try {
      const build = await buildWeb({ outDir, log: () => {} });
      assert.ok(build.magika, "models/magika.gguf was compiled");
      const { server, url } = serveWeb({ root: outDir, port: 0, signal: ac.signal });
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        const requests: { url: string; method: string; body: string | null }[] = [];
        page.on("request", (r) => {
          requests.push({ url: r.url(), method: r.method(), body: r.postData() });
        });
        await page.goto(`${url}files.html`);
        await page.waitForFunction(
          () =>
            (globalThis as { ggufcFiles?: { ready: boolean } })
              .ggufcFiles?.ready === true,
          undefined,
          { timeout: 30_000 },
        );
        assert.match(await page.locator(".no-upload").innerText(), /No upload/);

        const shown = async (count: number): Promise<Shown[]> => {
          await page.waitForFunction(
            (n) => document.querySelectorAll(".file-card").length >= n,
            count,
            { timeout: 60_000 },
          );
          return await page.locator(".file-card").evaluateAll((cards) =>
            cards.map((c) => ({
              name: c.querySelector(".file-name")!.textContent!,
              label: c.querySelector(".file-label")!.textContent!,
              time: c.querySelector(".file-time")!.textContent!,
            }))
          );
        };

        await page.setInputFiles("#pick", BATCH.map((f) => `${FIXTURE}/${f}`));
        const batch = await shown(BATCH.length);
        BATCH.forEach((f, i) => {
          assert.equal(batch[i]!.name, f.split("/").pop());
          assert.equal(batch[i]!.label, ggml.get(f), f);
          assert.match(batch[i]!.time, /ms per file · 4 files on \d+ workers/);
        });

        await page.setInputFiles("#pick", [`${FIXTURE}/${ALONE}`]);
        const [alone] = await shown(BATCH.length + 1);
        assert.equal(alone!.name, "code.js");
        assert.equal(alone!.label, ggml.get(ALONE));
        assert.match(alone!.time, /ms per file · main thread/);

        await Deno.mkdir("tests/artifacts", { recursive: true });
        await page.screenshot({ path: "tests/artifacts/web-files.png", fullPage: true });
        assert.deepEqual(errors, []);
        // Nothing but the page's own files, fetched with GET and no body.
        for (const r of requests) {
          if (/^(data|blob):/.test(r.url)) continue;
          assert.ok(r.url.startsWith(url), `request to another host: ${r.url}`);
          const path = new URL(r.url).pathname;
          assert.ok(PAGE_FILES.includes(path), `unexpected request: ${r.method} ${r.url}`);
          assert.equal(r.method, "GET", r.url);
          assert.equal(r.body, null, r.url);
        }
      } finally {
        await browser.close();
        ac.abort();
        await server.finished;
      }
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
});
