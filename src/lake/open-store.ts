/**
 * Opens the lake's object store from its URL: the scheme picks the backend.
 */
import { ConfigError } from '../errors.ts';
import { FileObjectStore } from './object-store-file.ts';
import { S3ObjectStore, type S3StoreOptions } from './object-store-s3.ts';
import type { ObjectStore } from './object-store.ts';

/**
 * The {@link ObjectStore} for a lake URL.
 *
 * - `s3://bucket` or `s3://bucket/prefix` → {@link S3ObjectStore} (AWS S3, or
 *   any S3-compatible server through `s3.endpoint`; put-if-absent is the S3
 *   conditional write `If-None-Match: *`)
 * - `file:///absolute/path` → {@link FileObjectStore} (a local or mounted folder)
 *
 * @param url the lake URL (setting `lakeUrl`)
 * @param s3 endpoint, region, credentials, addressing and timeout of the S3
 *   backend ({@link S3StoreOptions}); ignored for `file://`
 * @throws {ConfigError} (field `lakeUrl`) for any other scheme, an S3 URL
 *   without a bucket or with credentials in it, or a `file:` URL that is not absolute
 */
export function openObjectStore(url: string, s3: S3StoreOptions = {}): ObjectStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3') return new S3ObjectStore(url, s3);
  if (scheme === 'file') {
    try {
      return new FileObjectStore(url);
    } catch (err) {
      throw new ConfigError('lakeUrl', `${url} is not a usable file URL (${(err as Error).message}); write file:///absolute/path`);
    }
  }
  // Only the scheme is echoed: the rest of an unknown URL may carry credentials.
  throw new ConfigError('lakeUrl', `${scheme === undefined ? 'no scheme' : `scheme ${scheme}:`} is not supported; use s3://bucket/prefix (S3 or an S3-compatible server) or file:///absolute/path (a folder)`);
}
