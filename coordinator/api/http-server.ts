/**
 * The coordinator's HTTP server: the dashboard (static files from web/), the
 * JSON gateway and event stream under /api, Prometheus /metrics, and the
 * /healthz and /readyz probes. HTTPS when a certificate is configured.
 */
import { createReadStream, statSync } from 'node:fs';
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttps } from 'node:https';
import { extname, join, normalize, sep } from 'node:path';
import { ArswarmError, Code } from '../../common/errors.js';
import type { Authenticator } from './auth.js';
import type { ControlImpl } from './control-service.js';
import { handleEvents, handleUnary, sendError } from './gateway.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** The dashboard loads only its own files; inline styles are for chart attributes. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

export interface HttpServerOptions {
  impl: ControlImpl;
  auth: Authenticator;
  /** Folder of the dashboard's static files. */
  webDir: string;
  /** Prometheus text at scrape time. */
  metrics(): string;
  /** Readiness: the coordinator is running and its ledger is open. */
  ready(): boolean;
  /** PEM certificate and key: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
}

export class HttpServer {
  private server?: Server;

  constructor(private readonly o: HttpServerOptions) {}

  /** Listens on host:port (0 = free port) and resolves the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, err);
        else res.end();
      });
    };
    const server = this.o.tls
      ? createHttps({ cert: this.o.tls.cert, key: this.o.tls.key }, handler)
      : createHttp(handler);
    this.server = server;
    return new Promise((ok, fail) => {
      server.once('error', (err) =>
        fail(
          new ArswarmError(Code.Unavailable, `cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
            hint: 'set swarm.http_port (0 = any free port) or `arswarm up --http-port`',
          }),
        ),
      );
      server.listen(port, host, () => {
        const a = server.address();
        ok(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz') return plain(res, 200, 'ok\n');
    if (path === '/readyz')
      return this.o.ready() ? plain(res, 200, 'ready\n') : plain(res, 503, 'not ready\n');
    if (path === '/metrics')
      return plain(res, 200, this.o.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
    if (path === '/api/events') return handleEvents(this.o.impl, this.o.auth, req, res);
    if (path.startsWith('/api/')) return handleUnary(this.o.impl, path.slice('/api/'.length), req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n');
    return this.serveStatic(path, res);
  }

  private serveStatic(path: string, res: ServerResponse): void {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path === '/' ? '/index.html' : path);
    } catch {
      return plain(res, 404, 'not found\n');
    }
    const rel = normalize(decoded).replace(/^([/\\])+/, '');
    const file = join(this.o.webDir, rel);
    if (!file.startsWith(this.o.webDir + sep) || rel.split(/[/\\]/).some((p) => p.startsWith('.')))
      return plain(res, 404, 'not found\n');
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return plain(res, 404, 'not found\n');
      size = st.size;
    } catch {
      return plain(res, 404, 'not found\n');
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      'cache-control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    // Event streams never end on their own: close every connection.
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

function plain(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
