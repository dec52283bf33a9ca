/**
 * The contract every sink implements (cache, search index, other stores).
 *
 * A sink receives rendered documents, each with a render sequence number
 * (docs/architecture.md, "Views without the dual-write race"), and must keep, per
 * document, only the write with the highest sequence: a write whose sequence
 * is not higher than the stored one is skipped, not an error. A `doc` of null
 * removes the document, and an older write arriving after the removal must not
 * bring it back.
 *
 * When the store is slow or down, `write` throws {@link SinkUnavailableError}
 * (retriable) after its own bounded retries; the runtime then pauses the
 * affected partitions and retries later (backpressure) instead of dropping.
 * `write` is idempotent, so a retried batch is safe.
 */
import { CdcViewsError } from '../errors.ts';

/** One rendered document. `doc` null means: remove the document. */
export interface SinkWrite {
  /** Canonical key string of the document (src/cdc/keys.ts). */
  keyString: string;
  /** Render sequence number: the highest one wins. */
  seq: number;
  doc: Record<string, unknown> | null;
}

/** Outcome of one `write`, in documents. */
export interface SinkWriteResult {
  written: number;
  /** Writes not applied because the sink already held a higher sequence. */
  skipped: number;
}

export interface Sink {
  /** Names the sink in logs and metrics, e.g. `cache:order` or `search:orders-v1`. */
  readonly name: string;
  /** Creates what the sink needs (index, mappings); idempotent. */
  init(): Promise<void>;
  /** @throws {SinkUnavailableError} when the store stays unreachable after the sink's retries. */
  write(docs: readonly SinkWrite[]): Promise<SinkWriteResult>;
  close(): Promise<void>;
}

/** The store behind a sink is slow or down; retry later. Carries a hint of when. */
export class SinkUnavailableError extends CdcViewsError {
  /** The outage needs an operator (rejected credentials, a deleted index), not only time: logged as an error. */
  readonly needsOperator: boolean;

  constructor(
    readonly sink: string,
    message: string,
    readonly retryAfterMs: number,
    options: { cause?: unknown; needsOperator?: boolean } = {},
  ) {
    super('SINK_UNAVAILABLE', `sink ${sink} unavailable: ${message}`, { cause: options.cause, retriable: true });
    this.needsOperator = options.needsOperator ?? false;
  }
}

/** One document a sink refused for good (e.g. a mapping error), with the reason. */
export interface RejectedWrite {
  keyString: string;
  seq: number;
  reason: string;
}

/**
 * A sink refused some documents for good: retrying cannot help. The runtime
 * sends them to the DLQ (with the view, the sink and the reason) and goes on;
 * the other documents of the write were applied.
 */
export class DocumentsRejectedError extends CdcViewsError {
  constructor(
    readonly sink: string,
    readonly rejected: readonly RejectedWrite[],
    readonly written: number,
    readonly skipped: number,
    code: string,
    message: string,
  ) {
    super(code, message);
  }
}
