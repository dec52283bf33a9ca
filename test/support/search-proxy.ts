/**
 * A reverse proxy in front of the real search engine, for containment tests:
 * it forwards every request to the engine (CDCV_OPENSEARCH_URL) unchanged,
 * and on a switch answers instead like an engine that refuses the
 * application's credentials (401 with the security plugin's error body) or
 * is unavailable (503). It counts what it forwarded and what it refused, so
 * a test can prove the fault really reached the application.
 *
 * It can also require HTTP Basic credentials (`credentials`): a request
 * without them, or with others, is answered 401 in every mode, like a
 * secured engine.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does with a request. */
export type SearchProxyMode = 'forward' | 'unauthorized' | 'unavailable';

export interface SearchProxyCounts {
  /** Requests passed to the engine (whatever it answered). */
  forwarded: number;
  /** Requests answered 401 by the proxy. */
  unauthorized: number;
  /** Requests answered 503 by the proxy. */
  unavailable: number;
  /** Of the refused requests (401 or 503), how many were bulk writes (`/_bulk`). */
  refusedBulk: number;
  /** Requests the engine could not be reached for (answered 502). */
  upstreamErrors: number;
}

/** The body OpenSearch's security plugin (and Elasticsearch) answers 401 with. */
export function securityErrorBody(path: string): string {
  const cause = { type: 'security_exception', reason: `missing authentication credentials for REST request [${path}]`, header: { 'WWW-Authenticate': 'Basic realm="OpenSearch Security"' } };
  return JSON.stringify({ error: { root_cause: [cause], ...cause }, status: 401 });
}

const UNAVAILABLE_BODY = JSON.stringify({
  error: { root_cause: [{ type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];' }], type: 'cluster_block_exception', reason: 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];' },
  status: 503,
});

export class SearchProxy {
  mode: SearchProxyMode = 'forward';
  readonly counts: SearchProxyCounts = { forwarded: 0, unauthorized: 0, unavailable: 0, refusedBulk: 0, upstreamErrors: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly upstream: URL;
  private port = 0;

  /**
   * @param upstreamUrl the real engine, e.g. `cfg.CDCV_OPENSEARCH_URL`
   * @param credentials when given, only requests carrying exactly these Basic credentials are served
   */
  constructor(
    upstreamUrl: string,
    private readonly credentials?: { username: string; password: string },
  ) {
    this.upstream = new URL(upstreamUrl);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on a free port of 127.0.0.1. */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The URL applications are given (with the credentials, when the proxy requires them). */
  get url(): string {
    const auth = this.credentials ? `${encodeURIComponent(this.credentials.username)}:${encodeURIComponent(this.credentials.password)}@` : '';
    return `http://${auth}127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.credentials) return true;
    const expected = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    return req.headers.authorization === expected;
  }

  private refuse(req: IncomingMessage, res: ServerResponse, status: 401 | 503): void {
    if (status === 401) this.counts.unauthorized += 1;
    else this.counts.unavailable += 1;
    if ((req.url ?? '').includes('_bulk')) this.counts.refusedBulk += 1;
    const body = status === 401 ? securityErrorBody(req.url ?? '/') : UNAVAILABLE_BODY;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8', 'content-length': String(Buffer.byteLength(body)) };
    if (status === 401) headers['www-authenticate'] = 'Basic realm="OpenSearch Security"';
    // Read the request body first, as the engine does, so the client sees a clean answer.
    req.resume();
    req.once('end', () => {
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.mode === 'unauthorized' || !this.authorized(req)) return this.refuse(req, res, 401);
    if (this.mode === 'unavailable') return this.refuse(req, res, 503);
    this.counts.forwarded += 1;
    const headers = { ...req.headers, host: this.upstream.host };
    // The engine behind the proxy is the stack's, without security: the proxy checked the credentials.
    delete headers.authorization;
    if (this.upstream.username) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(this.upstream.username)}:${decodeURIComponent(this.upstream.password)}`).toString('base64')}`;
    const upstream = request(
      { protocol: this.upstream.protocol, hostname: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      this.counts.upstreamErrors += 1;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(upstream);
  }
}
