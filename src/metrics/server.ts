/**
 * The operations HTTP server of a running application (fastify):
 *
 * | route                   | answers                                                                |
 * | ----------------------- | ---------------------------------------------------------------------- |
 * | `GET /metrics`          | the registry in Prometheus text format                                 |
 * | `GET /healthz`          | liveness: 200 while {@link HealthSource.live} is true, else 503         |
 * | `GET /readyz`           | readiness: 200 when live, in the consumer group and lag ≤ `readyMaxLag`; else 503 with why |
 * | `GET /stores/:table/:key` | interactive query: the live row of `table` for the URL-encoded JSON `key`; only when enabled ({@link HttpServerOptions.stores}) and with the bearer token, else 404 / 401 |
 *
 * `/metrics`, `/healthz` and `/readyz` reveal no row data and are open to
 * whoever reaches the port (Prometheus, the kubelet). `/stores` serves any row
 * of any mirrored table: it is off by default (404 naming `CDCV_STORES_ENABLED`)
 * and, when on, answers 401 without `Authorization: Bearer <storesToken>`
 * (./stores-auth.ts, compared in constant time).
 *
 * It depends on interfaces only ({@link HealthSource}, {@link RowReader}), so the
 * runtime implements them and the server never imports the processor.
 */
import { fastify, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Row } from '../cdc/types.ts';
import { canonicalKeyString } from '../cdc/keys.ts';
import type { Logger } from '../log.ts';
import type { Secret } from '../secrets.ts';
import type { StoredRow } from '../state/store.ts';
import { bearerMatches } from './stores-auth.ts';

/** What readiness is judged on. */
export interface Readiness {
  /** Partitions currently assigned to this instance. */
  assigned: number;
  /** Total lag over the assigned partitions, records (end offset − stored position). */
  lag: number;
  /**
   * True once this instance has joined the consumer group. A member that
   * joined and got no partitions (more instances than partitions, e.g. the
   * surge pod of a rolling update) is ready: it stands by for the next
   * rebalance, and holding it unready would stall the rollout.
   * @defaultValue false (then no partitions means not ready)
   */
  joined?: boolean;
}

/** Implemented by the runtime (the processor) for /healthz and /readyz. */
export interface HealthSource {
  /** True while the processing loop runs and the consumer has not crashed. Must be cheap and not throw. */
  live(): boolean;
  /** Assigned partitions and their total lag. A rejection makes /readyz answer 503 with its message. */
  readiness(): Promise<Readiness>;
}

/** Reads a table row for /stores (StateStore implements it). */
export interface RowReader {
  /** The stored row of `keyString` (canonical key) in `table`; null or `row: null` when absent or deleted. */
  get(table: string, keyString: string): Promise<StoredRow | null>;
  /** The state table id of a table name (`public.orders` → its topic). */
  resolveTable(name: string): Promise<string>;
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Registry served on /metrics (the one passed to createMetrics). */
  registry: Registry;
  health: HealthSource;
  /**
   * /stores: the table state it reads and the bearer token it requires
   * (read on every request, so a rotated token file is picked up). Without
   * it /stores answers 404 naming `CDCV_STORES_ENABLED`.
   */
  stores?: { rows: RowReader; token: Secret };
  /** TCP port; 0 picks a free one (tests). @defaultValue 9464 (`CDCV_HTTP_PORT`) */
  port?: number;
  /**
   * Address to listen on (`CDCV_HTTP_HOST`). All interfaces by default, as
   * Prometheus and the Kubernetes probes reach the process from outside its
   * network namespace; `127.0.0.1` keeps it on the local machine.
   * @defaultValue `0.0.0.0`
   */
  host?: string;
  /** /readyz answers 503 while the total lag exceeds this, records. @defaultValue 10000 (`CDCV_READY_MAX_LAG`) */
  readyMaxLag?: number;
  /** Errors of the server itself are logged here (requests are not logged). */
  logger?: Logger;
}

/** A listening server. */
export interface HttpServer {
  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, lets in-flight requests finish, closes idle keep-alive connections. */
  close(): Promise<void>;
}

/** Body of a 503 from /readyz and /healthz, and of a 4xx. */
export interface ProblemBody {
  error: string;
  [detail: string]: unknown;
}

/** Body of a 200 from /stores. */
export interface StoreRowBody {
  table: string;
  /** Canonical key string. */
  key: string;
  /** The row's version (fixed-width, compared as strings; see src/cdc/source-position.ts). */
  version: string;
  row: Row;
}

/** Builds the fastify instance without listening (used by {@link startHttpServer}; handy with `inject` in tests). */
export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const maxLag = opts.readyMaxLag ?? 10_000;
  const loggerInstance: FastifyBaseLogger | undefined = opts.logger?.child({ component: 'http' });
  const app = fastify({
    // Logging every scrape and probe would be a log line every few seconds for nothing.
    disableRequestLogging: true,
    loggerInstance,
    return503OnClosing: true,
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(body);
  });

  app.get('/healthz', async (_req, reply) => {
    let live: boolean;
    try {
      live = opts.health.live();
    } catch {
      live = false;
    }
    return live ? reply.send({ status: 'ok' }) : reply.code(503).send({ status: 'down', error: 'the processing loop stopped or the consumer crashed' });
  });

  app.get('/readyz', async (_req, reply) => {
    const notReady = (error: string, detail: Record<string, unknown> = {}) => reply.code(503).send({ ready: false, error, ...detail, maxLag });
    if (!safeLive(opts.health)) return notReady('not live: the processing loop stopped or the consumer crashed');
    let r: Readiness;
    try {
      r = await opts.health.readiness();
    } catch (err) {
      return notReady(`readiness unknown: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (r.assigned <= 0 && r.joined !== true) return notReady('no partitions assigned', { ...r });
    if (r.lag > maxLag) return notReady(`lag ${r.lag} exceeds the maximum ${maxLag} (CDCV_READY_MAX_LAG)`, { ...r });
    return reply.send({ ready: true, ...r, maxLag });
  });

  app.get<{ Params: { table: string; key: string } }>('/stores/:table/:key', async (req, reply) => {
    const stores = opts.stores;
    if (!stores) return reply.code(404).send({ error: STORES_DISABLED });
    let token: string;
    try {
      token = stores.token.reveal();
    } catch (err) {
      // The detail (the file's path) goes to the log, not to an unauthenticated client.
      opts.logger?.error({ err }, 'the /stores token cannot be read');
      return reply.code(503).send({ error: 'the /stores token cannot be read on the server; see its log' });
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="cdc-views /stores"').send({ error: 'missing or wrong bearer token: send Authorization: Bearer <the token of CDCV_STORES_TOKEN_FILE>' });
    }
    const { table, key } = req.params;
    let parsed: unknown;
    try {
      parsed = JSON.parse(key);
    } catch (err) {
      return reply.code(400).send({ error: `key is not valid JSON (${(err as Error).message}); pass the URL-encoded JSON of the primary-key columns, e.g. /stores/public.customers/${encodeURIComponent('{"id":42}')}`, key });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
      return reply.code(400).send({ error: 'key must be a JSON object of the primary-key columns, e.g. {"id":42}', key });
    }
    const keyString = canonicalKeyString(parsed as Row);
    const stored = await stores.rows.get(await stores.rows.resolveTable(table), keyString);
    if (stored === null || stored.row === null) {
      return reply.code(404).send({ error: `no live row for key ${keyString} in table ${table}`, table, key: keyString, ...(stored ? { deletedAtVersion: stored.version } : {}) });
    }
    const body: StoreRowBody = { table, key: keyString, version: stored.version, row: stored.row };
    return reply.send(body);
  });

  const routes = `/metrics, /healthz, /readyz${opts.stores ? ', /stores/<table>/<url-encoded JSON key>' : ''}`;
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: req.url.startsWith('/stores') && !opts.stores ? STORES_DISABLED : `no route ${req.method} ${req.url}; routes: ${routes}` }));
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) opts.logger?.error({ err }, 'ops HTTP request failed');
    return reply.code(status).send({ error: err.message });
  });
  return app;
}

/** The 404 of /stores when it is off. */
export const STORES_DISABLED = '/stores is disabled: it serves any row of any table, so it is off unless CDCV_STORES_ENABLED=true (storesEnabled) with a bearer token in CDCV_STORES_TOKEN_FILE';

function safeLive(health: HealthSource): boolean {
  try {
    return health.live();
  } catch {
    return false;
  }
}

/**
 * Starts the operations server and resolves once it listens.
 * @throws when the port cannot be bound (e.g. EADDRINUSE: set CDCV_HTTP_PORT).
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const app = buildHttpServer(opts);
  const host = opts.host ?? '0.0.0.0';
  await app.listen({ port: opts.port ?? 9464, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (opts.port ?? 9464);
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () => app.close(),
  };
}
