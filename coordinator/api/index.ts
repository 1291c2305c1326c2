/**
 * The control plane in one piece: tokens and roles, the ControlService
 * implementation behind them (for gRPC and the HTTP gateway alike), TLS
 * credentials, and the HTTP server with the dashboard, /metrics and probes.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Config } from '../../common/config.js';
import { ArswarmError, Code } from '../../common/errors.js';
import { packagePath } from '../../common/package-root.js';
import { resolveAuth, type Authenticator } from './auth.js';
import { codeService, type BundleFetch, type CodeImpl } from './code-service.js';
import { authorized, controlService, type ControlHost, type ControlImpl } from './control-service.js';
import { HttpServer } from './http-server.js';
import { metricsText } from './metrics.js';

/** The repo's web/ folder (the dashboard). */
export const WEB_DIR = packagePath('web');

export interface ControlApiOptions {
  config: Config;
  host: ControlHost;
  /** Where a generated admin token is kept when no token is configured. */
  stateDir: string;
  /** Overrides api.tokens_file (the edge reads ARSWARM_TOKENS_FILE). */
  tokensFile?: string;
  /** Readiness for /readyz. */
  ready(): boolean;
  /** Dashboard files. @default WEB_DIR */
  webDir?: string;
}

export class ControlApi {
  readonly auth: Authenticator;
  /** ControlService with the token check in front of every method. */
  readonly impl: ControlImpl;
  /** The admin token generated because none was configured (print it to the person who started the swarm, never log it). */
  readonly generated?: { token: string; file: string };
  /** The worker token in clear when known (generated, api.worker_token_file, a plain entry): what local workers get. */
  readonly workerToken?: string;
  /** The worker token generated because none was configured. */
  readonly generatedWorker?: { token: string; file: string };
  private readonly tls?: { cert: Buffer; key: Buffer };
  private http?: HttpServer;
  private readonly o: ControlApiOptions & { webDir: string };

  constructor(options: ControlApiOptions) {
    const o = (this.o = { ...options, webDir: options.webDir ?? WEB_DIR });
    const r = resolveAuth({ api: o.config.api, tokensFile: o.tokensFile, stateDir: o.stateDir });
    this.auth = r.auth;
    this.generated = r.generated;
    this.workerToken = r.workerToken;
    this.generatedWorker = r.generatedWorker;
    this.impl = authorized(controlService(o.config, o.host), r.auth);
    const { tls_cert_file: cert, tls_key_file: key } = o.config.api;
    if (cert && key)
      this.tls = { cert: readPem(cert, 'api.tls_cert_file'), key: readPem(key, 'api.tls_key_file') };
  }

  /** CodeService over `fetch`, admitting worker (and admin) tokens only. */
  codeImpl(fetch: BundleFetch): CodeImpl {
    return codeService(this.auth, fetch);
  }

  /** TLS when certificates are configured, plaintext otherwise. */
  grpcCredentials(): grpc.ServerCredentials {
    return this.tls
      ? grpc.ServerCredentials.createSsl(
          null,
          [{ cert_chain: this.tls.cert, private_key: this.tls.key }],
          false,
        )
      : grpc.ServerCredentials.createInsecure();
  }

  get tlsEnabled(): boolean {
    return !!this.tls;
  }

  /** Starts the HTTP server; resolves the bound port. */
  async startHttp(host: string, port: number): Promise<number> {
    const { config, host: h } = this.o;
    this.http = new HttpServer({
      impl: this.impl,
      auth: this.auth,
      webDir: this.o.webDir,
      metrics: () =>
        metricsText(config, h.ledger.state, h.workers.live(), Date.now(), {
          waiting: h.waitingWork?.(),
          proposersExhausted: h.proposersExhausted?.(),
        }),
      ready: this.o.ready,
      tls: this.tls,
    });
    return this.http.listen(host, port);
  }

  async close(): Promise<void> {
    await this.http?.close();
  }
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ArswarmError(Code.NotFound, `cannot read ${field} ${path}`, { cause: err, field });
  }
}
