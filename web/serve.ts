/**
 * A small static file server for the built page (web/dist), on 127.0.0.1 only.
 *
 * Only files inside the root are served: request paths with `..`, encoded dots or slashes
 * (`%2e`, `%2f`, `%5c`), backslashes, NUL, or a dot-file segment are refused with 400, and the
 * resolved real path (symlinks followed) must stay under the root. Only GET and HEAD (others:
 * 405), no request body is read, no directory listings, and only known file types (anything
 * else: 404).
 *
 * `deno task web [--port N] [--no-build]` (`ggufc web`, cli/web.ts) builds the page
 * (web/build.ts) and serves it.
 *
 * @module
 */
import { extname, join, sep } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

/** Content types by file extension; files of other types are not served. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".bin": "application/octet-stream",
  ".gz": "application/octet-stream",
  ".wasm": "application/wasm",
};

/** The page's own files only; inline WASM needs 'wasm-unsafe-eval'. */
const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Longest request path accepted (the page's paths are short). */
const MAX_PATH = 256;

function plain(status: number, text: string, extra: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      ...extra,
    },
  });
}

/**
 * Maps a URL path to a file path relative to the root, or an HTTP status explaining why not.
 *
 * @param rawPath the path as it came in the request line (still percent-encoded)
 * @returns the relative file path, or the status to answer with
 */
export function resolveRequestPath(rawPath: string): { file: string } | { status: 400 | 404 } {
  if (rawPath.length > MAX_PATH || !rawPath.startsWith("/")) return { status: 400 };
  // Encoded dots, slashes, backslashes and NULs are never needed by the page: refuse them
  // before decoding, so no decoding order can turn them into a traversal.
  if (/%(2e|2f|5c|00)/i.test(rawPath) || rawPath.includes("\\")) return { status: 400 };
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { status: 400 };
  }
  // Control characters (NUL included) and backslashes never name one of the page's files.
  if ([...path].some((c) => c < " " || c === "\\")) return { status: 400 };
  const segments = path.split("/").slice(1);
  if (segments.some((s) => s === ".." || s === "." || s.startsWith("."))) return { status: 400 };
  if (segments.at(-1) === "") segments[segments.length - 1] = "index.html";
  if (segments.slice(0, -1).some((s) => s === "")) return { status: 404 };
  const file = segments.join("/");
  if (!(extname(file) in CONTENT_TYPES)) return { status: 404 };
  return { file };
}

/**
 * A request handler serving the files under `root`.
 *
 * @param root the folder to serve (web/dist)
 * @returns the handler for `Deno.serve`
 * @example
 * ```ts ignore
 * import { staticHandler } from "./serve.ts";
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, staticHandler("web/dist"));
 * ```
 */
export function staticHandler(root: string): (req: Request) => Promise<Response> {
  const realRoot = Deno.realPathSync(root);
  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return plain(405, "Method not allowed", { allow: "GET, HEAD" });
    }
    // The raw path from the request line: `new URL` would already have normalised `..`.
    const m = /^[a-z]+:\/\/[^/]*(\/[^?#]*)/i.exec(req.url);
    if (!m) return plain(400, "Bad request");
    const resolved = resolveRequestPath(m[1]!);
    if ("status" in resolved) {
      return plain(resolved.status, resolved.status === 400 ? "Bad request" : "Not found");
    }
    let real: string;
    let file: Deno.FsFile | null = null;
    try {
      real = await Deno.realPath(join(realRoot, resolved.file));
      if (!real.startsWith(realRoot + sep)) return plain(404, "Not found");
      const info = await Deno.stat(real);
      if (!info.isFile) return plain(404, "Not found");
      const headers = {
        "content-type": CONTENT_TYPES[extname(real)]!,
        "content-length": String(info.size),
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "content-security-policy": CSP,
        "referrer-policy": "no-referrer",
      };
      if (req.method === "HEAD") return new Response(null, { headers });
      file = await Deno.open(real, { read: true });
      return new Response(file.readable, { headers });
    } catch (e) {
      file?.close();
      if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
        return plain(404, "Not found");
      }
      if (e instanceof Deno.errors.PermissionDenied) return plain(403, "Forbidden");
      throw e;
    }
  };
}

/** Options of {@link serveWeb}. */
export interface ServeOptions {
  /** Folder to serve; default web/dist. */
  root?: string;
  /** Port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called with the page's URL once listening. */
  onListen?: (url: string) => void;
}

/**
 * Serves the built page on 127.0.0.1.
 *
 * @param options folder, port, stop signal
 * @returns the server and its URL
 */
export function serveWeb(
  options: ServeOptions = {},
): { server: Deno.HttpServer<Deno.NetAddr>; url: string } {
  const root = options.root ?? fromFileUrl(new URL("./dist", import.meta.url));
  let url = "";
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: options.port ?? 8080,
      signal: options.signal,
      onListen: ({ port }) => {
        url = `http://127.0.0.1:${port}/`;
        options.onListen?.(url);
      },
    },
    staticHandler(root),
  );
  url = `http://127.0.0.1:${server.addr.port}/`;
  return { server, url };
}
