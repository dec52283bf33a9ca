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
  constructor(topic: string, partition: number, epoch: number) {
    super('STATE_FENCED', `partition ${topic}[${partition}] is owned by a newer instance (our epoch ${epoch} is stale)`);
  }
}
