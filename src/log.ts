/**
 * Structured JSON logging (pino). Level from `CDCV_LOG_LEVEL` (default `info`);
 * nothing is logged per record at `info`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** The process-wide root logger; components take `logger.child({ applicationId, … })`. */
export const logger: Logger = pino({
  name: 'cdc-views',
  level: process.env.CDCV_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
});
