// Minimal HTTP servers for the driver: the built viewer (its own origin), and a reference data server
// with nginx's gzip_static semantics (ngx_http_gzip_static_module, "gzip_static always") that can be told
// to make one hosting mistake, so each failure cause of README.md here can be produced on purpose.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".txt": "text/plain", ".json": "application/json" };

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${server.address().port}`));
  });
}

function safeJoin(root, urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const full = path.resolve(root, "." + rel);
  return full === root || full.startsWith(root + path.sep) ? full : null;
}

/** Serves a static directory (the viewer build). Returns { origin, close }. */
export async function serveStatic(root) {
  root = path.resolve(root);
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, "http://x").pathname;
    let file = safeJoin(root, pathname === "/" ? "/index.html" : pathname);
    if (file && fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!file || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    fs.createReadStream(file).pipe(res);
  });
  const origin = await listen(server);
  return { origin, close: () => new Promise((r) => server.close(r)) };
}

/** Hosting mistakes the reference data server can make on purpose. */
export const FAULTS = {
  none: "correct hosting",
  "no-content-encoding": "serves X.gz for X without Content-Encoding: gzip (a .gz copied to the plain name, or an S3 object missing the header)",
  "no-cors": "sends no CORS headers at all",
  "no-cors-chunks": "sends CORS headers on JSON files (info, manifests) but not on chunks and fragments",
  "gzip-fragments": "sends Content-Encoding: gzip on the plain mesh fragments",
  "try-files": "404s every chunk that exists only as X.gz (nginx try_files)",
};

const JSON_NAME = /(^|\/)(info|[0-9]+:0)$/;

/**
 * Serves `root` (a folder holding datasets) at http://127.0.0.1:<port>/ with gzip_static semantics:
 * a request for X is answered with X if present, else with the bytes of X.gz and Content-Encoding: gzip.
 * CORS headers on every response, JSON type for info and manifests. `fault` selects one mistake.
 */
export async function serveData(root, fault = "none") {
  if (!(fault in FAULTS)) throw new Error(`unknown fault "${fault}"; one of ${Object.keys(FAULTS).join(", ")}`);
  root = path.resolve(root);
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, "http://x").pathname;
    const isJson = JSON_NAME.test(pathname);
    const headers = {};
    const cors = fault === "none" || fault === "no-content-encoding" || fault === "gzip-fragments" || fault === "try-files" || (fault === "no-cors-chunks" && isJson);
    if (cors) {
      headers["Access-Control-Allow-Origin"] = "*";
      headers["Access-Control-Expose-Headers"] = "Content-Length, Content-Range, Content-Encoding, ETag";
    }
    if (req.method === "OPTIONS") {
      if (cors) {
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS";
        headers["Access-Control-Allow-Headers"] = "Range, If-None-Match, If-Modified-Since, Cache-Control";
      }
      res.writeHead(204, headers).end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(403, headers).end();
      return;
    }
    const file = safeJoin(root, pathname);
    let body = null;
    if (file && fs.existsSync(file) && fs.statSync(file).isFile()) {
      body = fs.readFileSync(file);
      if (fault === "gzip-fragments" && !isJson && !/\.gz$/.test(file) && pathname.includes("/mesh/")) headers["Content-Encoding"] = "gzip";
    } else if (file && fs.existsSync(file + ".gz") && fault !== "try-files") {
      body = fs.readFileSync(file + ".gz");
      if (fault !== "no-content-encoding") headers["Content-Encoding"] = "gzip";
    }
    if (body === null) {
      res.writeHead(404, headers).end();
      return;
    }
    headers["Content-Type"] = isJson ? "application/json" : "application/octet-stream";
    headers["Content-Length"] = body.length;
    headers["Cache-Control"] = "no-store";
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  });
  const origin = await listen(server);
  return { origin, close: () => new Promise((r) => server.close(r)) };
}
