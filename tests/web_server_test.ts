import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveRequestPath, serveWeb } from "../web/serve.ts";

const SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT";

/** A temp folder: `root/` with one file of each served type, and a secret file beside it. */
async function fixture(): Promise<{ dir: string; root: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ggufc-web-" });
  const root = join(dir, "root");
  await Deno.mkdir(join(root, "sub"), { recursive: true });
  const files: Record<string, string> = {
    "index.html": "<!doctype html><title>t</title>",
    "app.js": "console.log(1)",
    "style.css": "body{}",
    "build.json": "{}",
    "favicon.svg": "<svg/>",
    "pic.png": "PNG",
    "data.bin": "BIN",
    "testset.bin.gz": "GZ",
    "source.ts": "secret source",
    ".hidden.json": "{}",
    "sub/page.html": "<p>sub</p>",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(root, name), text);
  }
  await Deno.writeTextFile(join(dir, "outside.html"), SECRET);
  await Deno.symlink(join(dir, "outside.html"), join(root, "link.html"));
  return { dir, root };
}

/** Sends one raw HTTP/1.1 request (no client-side path normalisation) and returns the reply. */
async function raw(port: number, requestLine: string): Promise<{ status: number; text: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
  );
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const text = new TextDecoder().decode(
    chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
  );
  return { status: Number(text.split(" ")[1]), text };
}

async function withServer(fn: (port: number, url: string) => Promise<void>): Promise<void> {
  const { dir, root } = await fixture();
  const ac = new AbortController();
  const { server, url } = serveWeb({ root, port: 0, signal: ac.signal });
  try {
    await fn(server.addr.port, url);
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serveWeb() serves each file type with its content type", async () => {
  await withServer(async (_port, url) => {
    const expected: [string, string][] = [
      ["", "text/html; charset=utf-8"],
      ["index.html", "text/html; charset=utf-8"],
      ["app.js", "text/javascript; charset=utf-8"],
      ["style.css", "text/css; charset=utf-8"],
      ["build.json", "application/json; charset=utf-8"],
      ["favicon.svg", "image/svg+xml"],
      ["pic.png", "image/png"],
      ["data.bin", "application/octet-stream"],
      ["testset.bin.gz", "application/octet-stream"],
      ["sub/page.html", "text/html; charset=utf-8"],
    ];
    for (const [path, type] of expected) {
      const res = await fetch(url + path);
      await res.body?.cancel();
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), type, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    }
  });
});

Deno.test("serveWeb() answers HEAD with the length and no body, other methods with 405", async () => {
  await withServer(async (_port, url) => {
    const head = await fetch(url + "app.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "14");
    assert.equal((await head.text()).length, 0);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const res = await fetch(url + "index.html", { method, body: method === "POST" ? "x" : null });
      await res.body?.cancel();
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    }
  });
});

Deno.test("serveWeb() rejects path traversal in every spelling and never leaks the file outside", async () => {
  await withServer(async (port) => {
    const attempts = [
      "/../outside.html",
      "/sub/../../outside.html",
      "/%2e%2e/outside.html",
      "/%2E%2E/outside.html",
      "/.%2e/outside.html",
      "/%2e%2e%2foutside.html",
      "/..%2Foutside.html",
      "/sub/..%2f..%2foutside.html",
      "/..\\outside.html",
      "/..%5coutside.html",
      "/%252e%252e/outside.html",
      "/index.html%00.png",
      "/./index.html",
      "/.hidden.json",
      "/%ff.html",
    ];
    for (const path of attempts) {
      const res = await raw(port, `GET ${path} HTTP/1.1`);
      assert.ok(res.status === 400 || res.status === 404, `${path}: ${res.status}`);
      assert.ok(!res.text.includes(SECRET), `${path} leaked the secret`);
    }
  });
});

Deno.test("serveWeb() does not follow a symlink out of the root, list folders or serve unknown types", async () => {
  await withServer(async (port) => {
    for (
      const path of ["/link.html", "/sub/", "/sub", "/source.ts", "/missing.html", "/a//b.html"]
    ) {
      const res = await raw(port, `GET ${path} HTTP/1.1`);
      assert.equal(res.status, 404, path);
      assert.ok(!res.text.includes(SECRET) && !res.text.includes("secret source"), path);
    }
  });
});

Deno.test("resolveRequestPath() maps clean paths and refuses encoded separators", () => {
  assert.deepEqual(resolveRequestPath("/"), { file: "index.html" });
  assert.deepEqual(resolveRequestPath("/sub/"), { file: "sub/index.html" });
  assert.deepEqual(resolveRequestPath("/app.js"), { file: "app.js" });
  assert.deepEqual(resolveRequestPath("/my%20pic.png"), { file: "my pic.png" });
  assert.deepEqual(resolveRequestPath("/a%2fb.png"), { status: 400 });
  assert.deepEqual(resolveRequestPath("/a%5Cb.png"), { status: 400 });
  assert.deepEqual(resolveRequestPath("/%2e%2e/x.png"), { status: 400 });
  assert.deepEqual(resolveRequestPath("relative.png"), { status: 400 });
  assert.deepEqual(resolveRequestPath("/" + "a".repeat(300) + ".png"), { status: 400 });
  assert.deepEqual(resolveRequestPath("/x.exe"), { status: 404 });
});
