/**
 * Hostile requests against the demo's static server (web/serve.ts), beyond the traversal
 * spellings web_server_test.ts covers: the loopback-only bind, absolute-form request targets,
 * hostile Host headers, oversized headers and declared bodies that are never sent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serveWeb } from "../web/serve.ts";

const SECRET = "SECRET-BESIDE-THE-ROOT";

async function withServer(fn: (port: number) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ggufc-web-hardening-" });
  const root = join(dir, "root");
  await Deno.mkdir(root);
  await Deno.writeTextFile(join(root, "index.html"), "INDEX");
  await Deno.writeTextFile(join(dir, "outside.html"), SECRET);
  const ac = new AbortController();
  const { server } = serveWeb({ root, port: 0, signal: ac.signal });
  try {
    await fn(server.addr.port);
  } finally {
    ac.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Sends raw request bytes and returns the first reply chunk (the status line and headers), or
 * "" when the server closes without one. Gives up after `ms`: the server must answer at once.
 */
async function firstReply(port: number, request: string, ms = 5000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), ms);
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buf = new Uint8Array(8192);
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    // Read any body that follows in the same chunk or the next one, to check for leaks.
    const n = text.includes("\r\n\r\n") ? await conn.read(buf).catch(() => null) : null;
    if (n) text += new TextDecoder().decode(buf.subarray(0, n));
    return text;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed by the timer or the server */ }
  }
}

const status = (reply: string) => Number(reply.split(" ")[1]);
const end = "Connection: close\r\n\r\n";

Deno.test("serveWeb() listens on 127.0.0.1 only: other interfaces of this machine refuse", async () => {
  await withServer(async (port) => {
    const others = Deno.networkInterfaces()
      .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
      .map((i) => i.address);
    for (const hostname of others) {
      await assert.rejects(
        Deno.connect({ hostname, port }),
        (e: unknown) => e instanceof Deno.errors.ConnectionRefused,
        `reachable on ${hostname}`,
      );
    }
    assert.equal(
      status(await firstReply(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`)),
      200,
    );
    if (others.length === 0) {
      console.log("no non-loopback IPv4 interface: bind checked on 127.0.0.1 only");
    }
  });
});

Deno.test("serveWeb() refuses absolute-form targets and hostile Host headers without leaking", async () => {
  await withServer(async (port) => {
    const requests = [
      `GET http://127.0.0.1/../outside.html HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`,
      `GET http://x/%2e%2e/outside.html HTTP/1.1\r\nHost: x\r\n${end}`,
      `GET /outside.html HTTP/1.1\r\nHost: 127.0.0.1/..\r\n${end}`,
      `GET /../outside.html HTTP/1.1\r\nHost: a/b\r\n${end}`,
      `GET //outside.html HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`,
      `GET /index.html/.. HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`,
      `GET /..%c0%af/outside.html HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`,
      `GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n${end}`,
    ];
    for (const r of requests) {
      const reply = await firstReply(port, r);
      const line = r.split("\r\n")[0]!;
      assert.ok([400, 404].includes(status(reply)), `${line} -> ${reply.split("\r\n")[0]}`);
      assert.ok(!reply.includes(SECRET), `${line} leaked the file beside the root`);
    }
    // A query or fragment naming another file is ignored: the path decides.
    for (const tail of ["?../../outside.html", "#/../../outside.html"]) {
      const reply = await firstReply(port, `GET /index.html${tail} HTTP/1.1\r\nHost: h\r\n${end}`);
      assert.equal(status(reply), 200);
      assert.ok(reply.includes("INDEX") && !reply.includes(SECRET));
    }
  });
});

Deno.test("serveWeb() answers at once without reading a declared 1 GB body, and refuses a 100 KB header", async () => {
  await withServer(async (port) => {
    const big = "Content-Length: 1000000000\r\n";
    const post = await firstReply(port, `POST / HTTP/1.1\r\nHost: h\r\n${big}\r\n`, 2000);
    assert.equal(status(post), 405);
    const get = await firstReply(port, `GET / HTTP/1.1\r\nHost: h\r\n${big}\r\n`, 2000);
    assert.equal(status(get), 200);
    const header = `X-Big: ${"a".repeat(100_000)}\r\n`;
    const huge = await firstReply(port, `GET / HTTP/1.1\r\nHost: h\r\n${header}${end}`);
    assert.ok([400, 431].includes(status(huge)), huge.split("\r\n")[0]);
  });
});
