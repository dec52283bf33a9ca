/**
 * The exit codes of every `cdc-views` command, in one place (docs/cli.md,
 * "Exit codes", and the epilogue of `--help`):
 *
 * | code | name | meaning |
 * | --- | --- | --- |
 * | 0 | OK | done; the answer is yes |
 * | 1 | NO | the command ran and the answer is no: not found, refused (not caught up, running, exists, not confirmed), or the work it ran failed (render failures) |
 * | 2 | USAGE | invalid command line, configuration or input file: fix the command |
 * | 3 | UNAVAILABLE | a dependency (Kafka, Redis, Connect, the search engine, the registry) is unreachable, timed out, refused the credentials or answered with an error: retrying later may succeed |
 * | 4 | INTERNAL | an unexpected error (a bug): the stack trace is printed |
 * | 130 | INTERRUPTED | SIGINT/SIGTERM ended a command before its end (`--until-caught-up`, a confirmation); a second signal |
 */
import { CommanderError } from 'commander';
import { CdcViewsError } from '../errors.ts';

/** Exit codes by name. */
export const ExitCode = {
  OK: 0,
  NO: 1,
  USAGE: 2,
  UNAVAILABLE: 3,
  INTERNAL: 4,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A signal (SIGINT, SIGTERM) ended a command before its end; it exits
 * {@link ExitCode.INTERRUPTED}. The message says how to continue.
 */
export class InterruptedError extends CdcViewsError {
  constructor(message: string) {
    super('INTERRUPTED', message);
  }
}

/** Error codes of {@link CdcViewsError} that mean a dependency could not be used, beyond the `_UNREACHABLE`/`_TIMEOUT`/`_AUTH_FAILED`/`_UNAVAILABLE` suffixes. */
const UNAVAILABLE_CODES = new Set(['CONNECT_ERROR', 'CACHE_POINTER_UNSTABLE', 'TEST_REDIS_UNAVAILABLE']);
const UNAVAILABLE_SUFFIX = /_(UNREACHABLE|TIMEOUT|AUTH_FAILED|UNAVAILABLE)$/;

/** Errors of the dependencies' clients that mean the dependency could not be used (KafkaJS, ioredis, the OpenSearch client, sockets). */
function isDependencyError(err: Error): boolean {
  if (/^KafkaJS/.test(err.name)) return true;
  if (['MaxRetriesPerRequestError', 'ReplyError', 'ConnectionError', 'TimeoutError', 'NoLivingConnectionsError', 'ResponseError'].includes(err.name)) return true;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|UND_ERR_\w+)$/.test(code);
}

/**
 * The exit code a failure ends a command with (see the module comment).
 * Commander's own errors (`--help`, `--version`, an unknown option, a
 * missing argument) map to 0 or {@link ExitCode.USAGE}.
 */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  if (err instanceof CdcViewsError) {
    if (err.code === 'INTERRUPTED') return ExitCode.INTERRUPTED;
    if (err.code.startsWith('CONFIG_')) return ExitCode.USAGE;
    if (UNAVAILABLE_SUFFIX.test(err.code) || UNAVAILABLE_CODES.has(err.code)) return ExitCode.UNAVAILABLE;
    // `run`'s consumer stopped for good: as its cause says (a broker gone is 3, a failure of the work 1).
    if (err.code === 'CONSUMER_CRASHED' && exitCodeOf(err.cause) === ExitCode.UNAVAILABLE) return ExitCode.UNAVAILABLE;
    return ExitCode.NO;
  }
  if (err instanceof Error && isDependencyError(err)) return ExitCode.UNAVAILABLE;
  return ExitCode.INTERNAL;
}

/**
 * What a command prints on stderr for a failure: one line `cdc-views: <message>`
 * for the failures it anticipates; the stack trace as well for
 * {@link ExitCode.INTERNAL}. Commander's errors were printed by commander already (empty).
 */
export function failureText(err: unknown): string {
  if (err instanceof CommanderError) return '';
  const code = exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === ExitCode.INTERNAL) return `cdc-views: internal error (please report it): ${err instanceof Error ? (err.stack ?? message) : message}\n`;
  return `cdc-views: ${message}\n`;
}

/** The exit codes for the epilogue of `cdc-views --help`. */
export const EXIT_CODES_HELP = `
Exit codes (every command; docs/cli.md):
  0    OK           done; the answer is yes
  1    NO           not found, refused (not caught up, running, exists, not confirmed), or the work failed
  2    USAGE        invalid command line, configuration or input file
  3    UNAVAILABLE  Kafka, Redis, Connect, the search engine or the registry unreachable, timed out or refusing
  4    INTERNAL     unexpected error (a bug; the stack trace is printed)
  130  INTERRUPTED  SIGINT/SIGTERM before the command's end (--until-caught-up, a confirmation)`;
