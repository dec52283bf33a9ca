/**
 * Object storage as the lake uses it: whole-object put and get, a put that
 * succeeds only when the key does not exist yet (the commit primitive of the
 * Delta log), listing by prefix, and delete. Two backends, chosen by the URL's
 * scheme: `s3://bucket/prefix` (./object-store-s3.ts, AWS SDK v3; any
 * S3-compatible server through an endpoint) and `file:///abs/path`
 * (./object-store-file.ts, a local or mounted folder).
 *
 * Keys are relative to the store's root (the URL's prefix or folder), use `/`
 * as separator and never start with `/`.
 */
import { CdcViewsError } from '../errors.ts';

/** One stored object as a listing shows it. */
export interface ObjectInfo {
  /** Key relative to the store's root. */
  key: string;
  /** Size, bytes. */
  size: number;
  /** Last modification, ms since the epoch. */
  lastModified: number;
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /**
   * Write only when no object has the key (S3 `If-None-Match: *`; a file
   * created exclusively): the loser of a race gets {@link ObjectExistsError}.
   * @defaultValue false
   */
  ifAbsent?: boolean;
}

/** The lake's view of an object store. Every method throws {@link ObjectStoreError} when the store cannot be reached or refuses. */
export interface ObjectStore {
  /** The store's URL without credentials (`s3://bucket/prefix`, `file:///path`), for messages and metrics labels. */
  readonly url: string;
  /** The object's bytes; `undefined` when the key does not exist. */
  get(key: string): Promise<Buffer | undefined>;
  /**
   * Writes the whole object atomically: readers see the old object (or none)
   * or the new one, never a part.
   * @throws {ObjectExistsError} with `ifAbsent` when the key exists
   */
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<void>;
  /** Every object whose key starts with `prefix`, sorted by key (byte order). */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Deletes the keys; absent keys are not an error. */
  delete(keys: readonly string[]): Promise<void>;
}

/** Error codes of the object store. */
export const ObjectStoreErrorCode = {
  /** The store did not answer or refused (network, credentials, permissions). */
  Unavailable: 'OBJECT_STORE_UNAVAILABLE',
  /** A put-if-absent found the key taken (HTTP 412 Precondition Failed). */
  Exists: 'OBJECT_STORE_EXISTS',
} as const;

/** The object store failed; `retriable` when it may pass on a retry (timeouts, 5xx). */
export class ObjectStoreError extends CdcViewsError {}

/** A put-if-absent lost: another writer created the key first. */
export class ObjectExistsError extends ObjectStoreError {
  constructor(
    readonly key: string,
    url: string,
  ) {
    super(ObjectStoreErrorCode.Exists, `${url}/${key} exists already: another writer created it first (put-if-absent refused, 412)`);
  }
}

/** Joins key parts with `/`, dropping empty parts and duplicate separators. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p !== '')
    .join('/');
}
