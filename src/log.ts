/**
 * Structured JSON logging (pino). Level from `CDCV_LOG_LEVEL` (default `info`);
 * nothing is logged per record at `info`. Logs go to stderr: stdout carries
 * only a command's results (`--json` documents, query rows), never a log line.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** The process-wide root logger (on stderr); components take `logger.child({ applicationId, … })`. */
export const logger: Logger = pino(
  {
    name: 'cdc-views',
    level: process.env.CDCV_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
  },
  pino.destination({ fd: 2, sync: true }),
);
