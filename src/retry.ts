/**
 * The one retry helper of cdc-views: exponential backoff with jitter, a bail
 * for errors that must not be retried, and a distinct {@link RetriesExhaustedError}
 * keeping the last error as its `cause` (after KafkaJS `src/retry/index.js`).
 * The loop, the backoff arithmetic and the abortable waits are p-retry's.
 *
 * Errors are NOT retried unless marked retriable: by default only a
 * {@link CdcViewsError} with `retriable === true` is (see src/errors.ts for why),
 * or whatever the `retriable` option's predicate accepts.
 */
import pRetry, { AbortError } from 'p-retry';
import { CdcViewsError } from './errors.ts';

/** An operation still failed with a retriable error after its last attempt. `cause` is that last error. */
export class RetriesExhaustedError extends CdcViewsError {
  constructor(
    /** What was retried (the `operation` option). */
    readonly operation: string,
    /** Attempts made, the first one included. */
    readonly attempts: number,
    cause: unknown,
  ) {
    super('RETRIES_EXHAUSTED', `${operation} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The default retriability rule: only a CdcViewsError marked `retriable: true`. */
export function isRetriable(err: unknown): boolean {
  return err instanceof CdcViewsError && err.retriable;
}

/** Passed to the retried function on every attempt. */
export interface AttemptContext {
  /** 1 on the first call, 2 on the first retry, … */
  readonly attempt: number;
  /** Stops retrying at once: the returned promise rejects with `error` as is (never wrapped). */
  readonly bail: (error: unknown) => never;
  /** The `signal` option, to pass on to abortable calls. */
  readonly signal: AbortSignal | undefined;
}

/** Passed to `onRetry` before each wait. */
export interface RetryEvent {
  /** The error of the attempt that just failed (retriable). */
  readonly error: unknown;
  /** Number of that attempt (1-based). */
  readonly attempt: number;
  /** Attempts still allowed after this one (Infinity when unbounded). */
  readonly attemptsLeft: number;
}

/**
 * Options of {@link retry}. The wait before retry n (n = 1 after the first
 * failure) is `min(maxDelayMs, minDelayMs × factor^(n−1) × r)`, with r drawn
 * uniformly from [1, 2) when `jitter` is on and r = 1 otherwise. With the
 * defaults: about 0.2–0.4 s, 0.4–0.8 s, 0.8–1.6 s, 1.6–3.2 s, 3.2–6.4 s
 * (≈ 6–12 s of waiting over 6 attempts).
 */
export interface RetryOptions {
  /** Calls in total, the first one included; `Infinity` retries until `signal` aborts. @defaultValue 6 */
  attempts?: number;
  /** Wait before the first retry, ms (before jitter). @defaultValue 200 */
  minDelayMs?: number;
  /** Upper bound of any wait, ms (after jitter). @defaultValue 10000 */
  maxDelayMs?: number;
  /** Growth of the wait per retry. @defaultValue 2 */
  factor?: number;
  /**
   * Multiply each wait by a random factor in [1, 2), so that many clients
   * failing together (a Redis restart) do not retry in lockstep.
   * @defaultValue true
   */
  jitter?: boolean;
  /**
   * Decides whether an error is worth another attempt. Anything it rejects
   * stops retrying and is rethrown as is.
   * @defaultValue {@link isRetriable}: a CdcViewsError with `retriable === true`
   */
  retriable?: (error: unknown) => boolean;
  /**
   * Aborts the retries: no further attempt starts, a wait in progress ends at
   * once, and the promise rejects with `signal.reason` (an `AbortError` or
   * `TimeoutError` DOMException unless the caller gave one). An attempt already
   * running is not interrupted unless it uses the signal itself; if it then
   * fails with a non-retriable error, that error is rethrown instead.
   * `AbortSignal.timeout(ms)` bounds the total time.
   */
  signal?: AbortSignal;
  /**
   * Called after a retriable failure, before the wait (log it, count
   * `cdc_views_retries_total`). Not called after the last attempt nor on a
   * bail. If it throws, retrying stops and that error is rethrown.
   */
  onRetry?: (event: RetryEvent) => void | Promise<void>;
  /** Names the operation in {@link RetriesExhaustedError}'s message and field. @defaultValue `'operation'` */
  operation?: string;
}

/** Carries any thrown value through p-retry, which would otherwise refuse to retry a TypeError or a non-Error. */
class Failed extends Error {
  constructor(readonly original: unknown) {
    super('attempt failed');
  }
}

/** Thrown by `bail()` inside an attempt. */
class Bailed extends Error {
  constructor(readonly original: unknown) {
    super('bailed');
  }
}

/**
 * Calls `fn` until it resolves, waiting with exponential backoff and jitter
 * between attempts while it fails with a retriable error.
 * @returns what `fn` resolves to.
 * @throws the error of `fn` as is when it is not retriable, or was passed to `bail`.
 * @throws {RetriesExhaustedError} when the last attempt failed with a retriable error (`cause` = that error).
 * @throws `signal.reason` when `signal` aborts.
 * @throws {RangeError} for an invalid `attempts`; p-retry's TypeError for other invalid numbers.
 */
export async function retry<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  if (!(attempts === Infinity || (Number.isInteger(attempts) && attempts >= 1))) {
    throw new RangeError(`retry: attempts must be an integer ≥ 1 or Infinity, got ${attempts}`);
  }
  const retriable = options.retriable ?? isRetriable;
  const { signal } = options;
  let made = 0;
  const bail = (error: unknown): never => {
    throw new Bailed(error);
  };

  try {
    return await pRetry(
      async (attempt) => {
        made = attempt;
        try {
          return await fn({ attempt, bail, signal });
        } catch (err) {
          if (err instanceof Bailed) throw new AbortError(err);
          if (!retriable(err)) throw new AbortError(new Bailed(err));
          // A retriable failure after an abort: stop with the signal's reason, without calling onRetry.
          if (signal?.aborted) throw new AbortError(new Bailed(signal.reason));
          throw new Failed(err);
        }
      },
      {
        retries: attempts - 1,
        minTimeout: options.minDelayMs ?? 200,
        maxTimeout: options.maxDelayMs ?? 10_000,
        factor: options.factor ?? 2,
        randomize: options.jitter ?? true,
        signal,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (retriesLeft > 0 && options.onRetry && error instanceof Failed) {
            await options.onRetry({ error: error.original, attempt: attemptNumber, attemptsLeft: retriesLeft });
          }
        },
      },
    );
  } catch (err) {
    if (err instanceof Bailed) throw err.original;
    if (err instanceof Failed) throw new RetriesExhaustedError(options.operation ?? 'operation', made, err.original);
    throw err; // signal.reason, or what onRetry threw
  }
}
