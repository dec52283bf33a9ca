/**
 * One root error class for cdc-views. Every error carries a unique string
 * `code` (used as a metric label and alert key) and a `retriable` flag that
 * defaults to false: in a CDC pipeline an error retried by default (a record
 * that will never decode) would stall a partition forever.
 */
export class CdcViewsError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Reasons a Kafka record cannot be turned into a ChangeEvent. The record goes to the DLQ. */
export const DecodeErrorCode = {
  NotJson: 'DECODE_NOT_JSON',
  BadEnvelope: 'DECODE_BAD_ENVELOPE',
  BadKey: 'DECODE_BAD_KEY',
  BadValue: 'DECODE_BAD_VALUE',
  NoKey: 'DECODE_NO_KEY',
} as const;
export type DecodeErrorCode = (typeof DecodeErrorCode)[keyof typeof DecodeErrorCode];

/** A record that is not a valid Debezium change event. Never retriable. */
export class DecodeError extends CdcViewsError {
  constructor(code: DecodeErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** Configuration or topology that cannot run; stops start-up. `field` names what to fix. */
export class ConfigError extends CdcViewsError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('CONFIG_INVALID', `${field}: ${message}`);
    this.field = field;
  }
}

/**
 * This instance no longer owns a partition: another instance took it and bumped
 * its owner epoch in Redis. The write was refused; the consumer must rejoin.
 */
export class FencedError extends CdcViewsError {
  constructor(
    topic: string,
    partition: number,
    readonly epoch: number,
    /** The owner epoch Redis holds; null when it holds none (its data was lost). */
    readonly storedEpoch: number | null,
  ) {
    super('STATE_FENCED', `partition ${topic}[${partition}]: our owner epoch ${epoch} is not the stored one (${storedEpoch ?? 'none'})`);
  }
}

/**
 * The position stored with the state is not the one a chunk started from:
 * Redis went back in time (a failover to a lagging replica, a restart from an
 * older AOF or RDB) or lost the partition's data. Nothing was written; the
 * partition must resume from what Redis holds.
 */
export class PositionMismatchError extends CdcViewsError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The position the chunk started from (null: none was stored). */
    readonly expected: bigint | null,
    /** The position Redis holds (null: none). */
    readonly found: bigint | null,
  ) {
    super('STATE_POSITION_MISMATCH', `partition ${topic}[${partition}]: the stored position is ${found ?? 'none'}, the chunk started from ${expected ?? 'none'}`);
  }
}
