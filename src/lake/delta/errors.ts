/**
 * Errors of the Delta Lake log layer (src/lake/delta). Each carries a stable
 * `code` for metrics and alerts; none is retriable by itself: a commit
 * conflict is resolved by re-reading the snapshot and committing the next
 * version, not by repeating the same put.
 */
import { CdcViewsError } from '../../errors.ts';

/** Error codes of the Delta log layer. */
export const DeltaErrorCode = {
  /** Another writer created the commit file of this version first (PROTOCOL.md, "Creation of New Log Entries"). */
  CommitConflict: 'LAKE_COMMIT_CONFLICT',
  /** The log cannot be replayed: a commit is missing (gap), a file does not parse, a required action is absent. */
  LogCorrupt: 'LAKE_LOG_CORRUPT',
  /** The table needs a protocol feature this implementation does not have (reader version > 1, writer version > 2, table features, nested types). */
  Unsupported: 'LAKE_PROTOCOL_UNSUPPORTED',
} as const;

/**
 * A put-if-absent of `_delta_log/<version>.json` lost the race: the version
 * exists. The commit that won is kept untouched; re-read the snapshot and
 * retry at a later version (PROTOCOL.md, "Delta Log Entries").
 */
export class DeltaConflictError extends CdcViewsError {
  constructor(
    readonly version: number,
    readonly key: string,
    options: { cause?: unknown } = {},
  ) {
    super(DeltaErrorCode.CommitConflict, `Delta commit conflict: version ${version} (${key}) was already committed by another writer`, options);
  }
}

/** The log cannot be read into a snapshot; the message names the file or version. */
export class DeltaLogError extends CdcViewsError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(DeltaErrorCode.LogCorrupt, message, options);
  }
}

/** The table uses a part of the protocol this implementation does not support. */
export class DeltaUnsupportedError extends CdcViewsError {
  constructor(message: string) {
    super(DeltaErrorCode.Unsupported, message);
  }
}
