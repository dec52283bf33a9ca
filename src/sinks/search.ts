/**
 * The search-index sink: one OpenSearch (or Elasticsearch 7.10) document per
 * view document, `_id` = the canonical key string, written with the bulk API
 * and `version_type=external`, `version` = the render sequence, so the index
 * itself keeps only the highest sequence per document (as the Confluent
 * Elasticsearch sink connector does, but with render sequences instead of
 * Kafka offsets, so replays cannot go back).
 *
 * ## Deletes and `index.gc_deletes`
 *
 * A delete is sent with the same external version. OpenSearch remembers a
 * deleted document's version (a tombstone) only for `index.gc_deletes`
 * (default 60 s). Within that window an older write arriving after the delete
 * is refused with a version conflict (skipped), as wanted. After it, the
 * tombstone is gone and an older write would re-create the document: an
 * out-of-order write may only trail its delete by less than `gc_deletes`.
 * In cdc-views renders of one document are totally ordered by their sequence
 * and a batch is retried as a whole, so a late older write needs a zombie
 * instance or a retry delayed by more than a minute; raise `index.gc_deletes`
 * through {@link SearchIndexSinkOptions.settings} (e.g. `"1h"`) to widen the
 * window, at the cost of keeping more tombstones in memory.
 *
 * ## Bulk atomicity
 *
 * A bulk request is not atomic across documents: after a failure some
 * documents may hold the new write and others the old one (each document is
 * either, never a mix, never older). A retry of the same batch is idempotent.
 */
import { errors, type Client } from '@opensearch-project/opensearch';
import { createSearchClient, describeSearchError, isSecurityFailure, toSearchConnection, type SearchConnection } from './search-client.ts';
import { ConfigError } from '../errors.ts';
import { DocumentsRejectedError, SinkUnavailableError, type Sink, type SinkWrite, type SinkWriteResult } from './sink.ts';

/** Options of {@link SearchIndexSink}. */
export interface SearchIndexSinkOptions {
  /**
   * OpenSearch URL (`CDCV_OPENSEARCH_URL`), or the connection with its
   * credentials, CA and signing (./search-client.ts `searchConnection`).
   * Ignored when {@link client} is given.
   */
  node: string | SearchConnection;
  /** Index (or alias) written to; created by `init()` when missing. */
  index: string;
  /** Mappings of the index when `init()` creates it (from the topology), e.g. `{ properties: { name: { type: 'text' } } }`. @defaultValue none (dynamic mapping) */
  mappings?: Record<string, unknown>;
  /** Index settings when `init()` creates it, e.g. `{ number_of_replicas: 0, 'index.gc_deletes': '1h' }`. @defaultValue none (server defaults) */
  settings?: Record<string, unknown>;
  /** Most operations (documents) per bulk request. @defaultValue 1000 */
  maxBulkDocs?: number;
  /** Most bytes of NDJSON per bulk request; a single larger document is sent alone. @defaultValue 5 MiB (5_242_880) */
  maxBulkBytes?: number;
  /** Most attempts of one bulk request (the first included) on retriable failures. @defaultValue 5 */
  maxAttempts?: number;
  /** Delay before the first retry, ms; doubles per attempt, with jitter (50–100 % of the value). @defaultValue 200 */
  initialBackoffMs?: number;
  /** Longest delay between two attempts, ms; also the `retryAfterMs` hint of {@link SinkUnavailableError}. @defaultValue 5000 */
  maxBackoffMs?: number;
  /** Time budget of one `write` including retries, ms; when spent, `write` throws {@link SinkUnavailableError}. @defaultValue 10000 */
  maxRetryTimeMs?: number;
  /** Timeout of one HTTP request, ms (capped by what is left of {@link maxRetryTimeMs}). @defaultValue 5000 */
  requestTimeoutMs?: number;
  /** An existing client to use instead of creating one (then `close()` leaves it open). */
  client?: Client;
}

/** One document OpenSearch refused for a reason a retry cannot fix. */
export interface RejectedDocument {
  keyString: string;
  seq: number;
  /** HTTP status of the bulk item (or of the whole request). */
  status: number;
  /** OpenSearch error type, e.g. `mapper_parsing_exception`. */
  type: string;
  reason: string;
}

/**
 * OpenSearch refused documents for a reason retrying cannot fix (a mapping
 * conflict, an invalid id, a 400). Not retriable: the documents belong in the
 * DLQ. The other documents of the batch were written; `written` and `skipped`
 * count them.
 */
export class SearchDocumentRejectedError extends DocumentsRejectedError {
  constructor(
    sink: string,
    readonly documents: readonly RejectedDocument[],
    written: number,
    skipped: number,
  ) {
    const shown = documents.slice(0, 5).map((r) => `${r.keyString} (seq ${r.seq}): ${r.status} ${r.type}: ${r.reason}`);
    const more = documents.length > shown.length ? `; and ${documents.length - shown.length} more` : '';
    super(
      sink,
      documents.map((r) => ({ keyString: r.keyString, seq: r.seq, reason: `${r.status} ${r.type}: ${r.reason}` })),
      written,
      skipped,
      'SINK_DOCUMENT_REJECTED',
      `sink ${sink} rejected ${documents.length} document(s): ${shown.join('; ')}${more}`,
    );
  }
}

/** HTTP statuses of a bulk item that mean "busy or briefly unavailable, retry". */
const RETRIABLE_ITEM_STATUS = new Set([429, 502, 503, 504]);

/**
 * Statuses of a whole request that are outages, not verdicts on the
 * documents: credentials rejected or rotated (401, 403), the index deleted
 * (404), busy (429), the server failing (5xx). The documents are not refused:
 * the partition pauses and retries until the cause is fixed.
 */
function isOutageStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 404 || status === 429 || status >= 500;
}

/** True for failures of the whole request that a later retry can fix (an outage). */
function isRetriableRequestError(err: unknown): boolean {
  if (err instanceof errors.ResponseError) return isOutageStatus(err.statusCode);
  // The password file cannot be read (being rotated, unmounted): an outage, never a verdict on the documents.
  if (err instanceof ConfigError) return true;
  return err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError;
}

/** An outage that needs an operator (credentials, an untrusted certificate, a deleted index), not just time. */
function needsOperator(err: unknown): boolean {
  return isSecurityFailure(err) || err instanceof ConfigError || (err instanceof errors.ResponseError && err.statusCode === 404);
}

/** A bulk item refused for a reason that passes: a busy node, or a cluster block (e.g. a full disk's read-only block). */
function isRetriableItem(item: BulkItemResult): boolean {
  return RETRIABLE_ITEM_STATUS.has(item.status) || (item.status === 403 && item.error?.type === 'cluster_block_exception');
}

/** One bulk operation, pre-serialized (the client sends strings as they are). */
interface Op {
  write: SinkWrite;
  ndjson: string;
  bytes: number;
}

interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { reason?: string } };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SearchIndexSink implements Sink {
  readonly name: string;
  readonly client: Client;
  private readonly ownsClient: boolean;
  private readonly connection: SearchConnection;
  private readonly opts: Required<Omit<SearchIndexSinkOptions, 'client' | 'mappings' | 'settings'>> &
    Pick<SearchIndexSinkOptions, 'mappings' | 'settings'>;

  constructor(options: SearchIndexSinkOptions) {
    this.opts = {
      maxBulkDocs: 1000,
      maxBulkBytes: 5 * 1024 * 1024,
      maxAttempts: 5,
      initialBackoffMs: 200,
      maxBackoffMs: 5000,
      maxRetryTimeMs: 10_000,
      requestTimeoutMs: 5000,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as SearchIndexSink['opts'];
    this.name = `search:${options.index}`;
    this.ownsClient = options.client === undefined;
    this.connection = toSearchConnection(options.node);
    // The client's own retries are off: this sink retries only the failed items, within its time budget.
    // A 401 is retried like an outage: each request reads the password (file) again, so a rotated one is picked up.
    this.client = options.client ?? createSearchClient(this.connection, { maxRetries: 0, requestTimeout: this.opts.requestTimeoutMs });
  }

  /** Creates the index with its mappings and settings unless it exists; a concurrent creation is fine. */
  async init(): Promise<void> {
    const index = this.opts.index;
    await this.withRetries('init', async (timeout) => {
      const exists = await this.client.indices.exists({ index }, { requestTimeout: timeout });
      if (exists.body) return;
      const body: Record<string, unknown> = {};
      if (this.opts.mappings) body.mappings = this.opts.mappings;
      if (this.opts.settings) body.settings = this.opts.settings;
      try {
        await this.client.indices.create({ index, body }, { requestTimeout: timeout });
      } catch (err) {
        const type = err instanceof errors.ResponseError ? (err.body as BulkItemResult | undefined)?.error?.type : undefined;
        if (type !== 'resource_already_exists_exception') throw err;
      }
    });
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.client.close();
  }

  /** Makes written documents visible to search (tests; a sink never refreshes on its own). */
  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.opts.index });
  }

  /**
   * Writes documents with the bulk API; returns how many were applied and how
   * many were skipped because the index held a higher (or equal) sequence.
   * Several writes of one key in a batch apply in their order (OpenSearch
   * executes one shard's bulk items in sequence), like the cache's script.
   * @throws {SinkUnavailableError} when OpenSearch stays unreachable or busy for the time budget; nothing is lost, retry the batch.
   * @throws {SearchDocumentRejectedError} when documents are refused for a non-retriable reason (after the others are written).
   */
  async write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    let skipped = 0;
    let written = 0;
    const rejected: RejectedDocument[] = [];
    let pending: Op[] = docs.map((w) => this.toOp(w));
    const started = Date.now();
    let lastError: unknown;

    for (let attempt = 1; pending.length > 0; attempt++) {
      const timeout = this.requestTimeout(started);
      const retry: Op[] = [];
      const queue = [...this.chunks(pending)];
      for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
        let items: BulkItemResult[];
        try {
          // The client sends string entries as they are (pre-serialized NDJSON lines).
          const res = await this.client.bulk({ body: chunk.map((op) => op.ndjson) as unknown as Record<string, unknown>[] }, { requestTimeout: timeout });
          items = res.body.items.map((item) => Object.values(item)[0] as BulkItemResult);
        } catch (err) {
          if (err instanceof errors.ResponseError && err.statusCode === 413 && chunk.length > 1) {
            // Over the engine's http.max_content_length: split the request, not the verdict.
            const half = Math.ceil(chunk.length / 2);
            queue.unshift(chunk.slice(0, half), chunk.slice(half));
            continue;
          }
          if (!isRetriableRequestError(err)) {
            // A request the engine refuses as such (a single document over http.max_content_length: 413): those documents go to the DLQ.
            const { status, type, reason } = describeRequestError(err);
            for (const op of chunk) rejected.push({ keyString: op.write.keyString, seq: op.write.seq, status, type, reason });
            continue;
          }
          lastError = err;
          retry.push(...chunk);
          continue;
        }
        chunk.forEach((op, i) => {
          const item = items[i] ?? { status: 0, error: { type: 'missing_item', reason: 'no item in the bulk response' } };
          if (item.status === 409) skipped++;
          else if (item.status < 300 || (item.status === 404 && op.write.doc === null)) written++; // deleting a missing document records its version: fine
          else if (isRetriableItem(item)) {
            lastError = new Error(`bulk item ${op.write.keyString}: ${item.status} ${item.error?.type ?? ''} ${item.error?.reason ?? ''}`);
            retry.push(op);
          } else {
            rejected.push({
              keyString: op.write.keyString,
              seq: op.write.seq,
              status: item.status,
              type: item.error?.type ?? 'unknown',
              reason: [item.error?.reason, item.error?.caused_by?.reason].filter(Boolean).join(': ') || 'no reason given',
            });
          }
        });
      }
      pending = retry;
      if (pending.length === 0) break;
      const delay = this.backoff(attempt);
      if (attempt >= this.opts.maxAttempts || Date.now() - started + delay >= this.opts.maxRetryTimeMs) {
        const reason = describeSearchError(lastError, this.connection);
        throw new SinkUnavailableError(
          this.name,
          `${pending.length} of ${docs.length} document(s) not written after ${attempt} attempt(s) in ${Date.now() - started} ms: ${reason}`,
          this.opts.maxBackoffMs,
          { cause: lastError, needsOperator: needsOperator(lastError) },
        );
      }
      await sleep(delay);
    }
    if (rejected.length > 0) throw new SearchDocumentRejectedError(this.name, rejected, written, skipped);
    return { written, skipped };
  }

  private toOp(w: SinkWrite): Op {
    const action = JSON.stringify({ [w.doc === null ? 'delete' : 'index']: { _index: this.opts.index, _id: w.keyString, version: w.seq, version_type: 'external' } });
    const ndjson = w.doc === null ? action : `${action}\n${JSON.stringify(w.doc)}`;
    return { write: w, ndjson, bytes: Buffer.byteLength(ndjson) + 1 };
  }

  /** Splits operations into bulk requests within maxBulkDocs and maxBulkBytes. */
  private *chunks(ops: Op[]): Generator<Op[]> {
    let chunk: Op[] = [];
    let bytes = 0;
    for (const op of ops) {
      if (chunk.length > 0 && (chunk.length >= this.opts.maxBulkDocs || bytes + op.bytes > this.opts.maxBulkBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(op);
      bytes += op.bytes;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** Exponential backoff with jitter: 50–100 % of initial·2^(attempt−1), at most maxBackoffMs. */
  private backoff(attempt: number): number {
    const base = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** (attempt - 1));
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  /** The request timeout for an attempt: what is left of the budget, within [500 ms, requestTimeoutMs]. */
  private requestTimeout(started: number): number {
    return Math.max(500, Math.min(this.opts.requestTimeoutMs, this.opts.maxRetryTimeMs - (Date.now() - started)));
  }

  /** Runs a whole-request operation with the same retry policy as `write`. */
  private async withRetries(what: string, fn: (timeoutMs: number) => Promise<void>): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.requestTimeout(started));
      } catch (err) {
        if (!isRetriableRequestError(err)) throw err;
        const delay = this.backoff(attempt);
        if (attempt >= this.opts.maxAttempts || Date.now() - started + delay >= this.opts.maxRetryTimeMs) {
          throw new SinkUnavailableError(this.name, `${what} failed after ${attempt} attempt(s): ${describeSearchError(err, this.connection)}`, this.opts.maxBackoffMs, { cause: err, needsOperator: needsOperator(err) });
        }
        await sleep(delay);
      }
    }
  }
}

function describeRequestError(err: unknown): { status: number; type: string; reason: string } {
  if (err instanceof errors.ResponseError) {
    const e = (err.body as BulkItemResult | undefined)?.error;
    return { status: err.statusCode, type: e?.type ?? 'response_error', reason: e?.reason ?? err.message };
  }
  return { status: 0, type: err instanceof Error ? err.name : 'error', reason: err instanceof Error ? err.message : String(err) };
}
