/**
 * The render punctuator: drains view marks continuously — on a timer and
 * after every group join — so documents whose render did not finish (a sink
 * outage outlived the chunk, the instance that applied the change lost its
 * partition in a rebalance, a crash) are rendered without waiting for a
 * restart. One instance drains at a time (a lock in Redis that expires), and
 * each run is bounded in time so it never starves the partitions it shares
 * the process with; what is left waits for the next run.
 */
import type { Logger } from '../log.ts';
import type { DrainSource, ViewEngine } from './view-engine.ts';

/** Options of {@link RenderPunctuator}. */
export interface RenderPunctuatorOptions {
  /** How often it runs, ms. @defaultValue 5000 */
  intervalMs?: number;
  /** How long one run may render, ms. @defaultValue 10000 */
  budgetMs?: number;
}

export class RenderPunctuator {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private readonly intervalMs: number;
  private readonly budgetMs: number;

  constructor(
    private readonly views: ViewEngine,
    private readonly marks: DrainSource,
    /** Takes the drain lock for `ttlMs`; false when another instance holds it. */
    private readonly lock: (ttlMs: number) => Promise<boolean>,
    private readonly log: Logger,
    options: RenderPunctuatorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.budgetMs = options.budgetMs ?? 10_000;
  }

  start(): void {
    this.timer = setInterval(() => this.trigger(), this.intervalMs);
    this.timer.unref();
  }

  /** Runs now (or right after the run in progress). */
  trigger(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce()
      .then(() => undefined)
      .catch((err: unknown) => this.log.warn({ err }, 'draining view marks failed; retrying at the next run'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.again = false;
    await this.running;
  }

  /**
   * One bounded drain, when this instance gets the lock.
   * @returns the roots rendered (0 when another instance holds the lock)
   */
  async runOnce(): Promise<number> {
    if (!(await this.lock(this.budgetMs + 5_000))) return 0;
    return this.views.drain(this.marks, { deadline: Date.now() + this.budgetMs });
  }
}
