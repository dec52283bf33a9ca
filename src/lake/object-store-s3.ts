/**
 * The `s3://` backend of {@link ObjectStore}, on the AWS SDK v3 S3 client:
 * AWS S3 or any S3-compatible server reached through an endpoint (MinIO,
 * s3proxy, Ceph RGW, R2...).
 *
 * Put-if-absent is the S3 API's conditional write: `PutObject` with
 * `If-None-Match: *` (AWS S3 since 2024-08; see
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 * The server refuses it with HTTP 412 Precondition Failed when the key exists,
 * or with 409 ConditionalRequestConflict when a concurrent write to the key is
 * in flight; both mean another writer won, so both become
 * {@link ObjectExistsError}. A server that ignores the header would let every
 * writer win: the lake needs one that honours it.
 */
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors.ts';
import { ObjectExistsError, ObjectStoreError, ObjectStoreErrorCode, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store.ts';

/** How to reach and sign requests to an S3 (-compatible) server. */
export interface S3StoreOptions {
  /** Base URL of an S3-compatible server (`http://127.0.0.1:9000`); absent = AWS S3 for {@link S3StoreOptions.region}. */
  endpoint?: string;
  /** Region the requests are signed for; S3-compatible servers mostly accept any. @defaultValue `'us-east-1'` */
  region?: string;
  /** A static key pair; absent = the SDK's default provider chain (env `AWS_*`, shared config/SSO, web identity, ECS/EC2 roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`. @defaultValue true when `endpoint` is set, else false */
  forcePathStyle?: boolean;
  /** Bound of each store call, ms, the SDK's retries included: a call that has not settled by then fails (retriable). @defaultValue 10000 */
  requestTimeoutMs?: number;
}

/** Most keys one DeleteObjects request takes (S3 API limit). */
const DELETE_BATCH = 1000;

/** Node network errors worth a retry (the SDK puts the errno code on `code`). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Objects in an S3 bucket under an optional key prefix.
 *
 * Every method throws {@link ObjectStoreError} (code `OBJECT_STORE_UNAVAILABLE`)
 * naming the store's URL, never credentials: `retriable` for timeouts,
 * network errors, 5xx and throttling; with the fix in the message for refused
 * credentials (401/403) and a missing bucket.
 */
export class S3ObjectStore implements ObjectStore {
  /** `s3://bucket` or `s3://bucket/prefix`, without credentials or trailing `/`. */
  readonly url: string;
  /** The bucket, from the URL's host part. */
  readonly bucket: string;
  /** The key prefix every key is under (`''` or ending in `/`). */
  private readonly root: string;
  private readonly client: S3Client;
  private readonly timeoutMs: number;

  /**
   * @param url `s3://bucket` or `s3://bucket/optional/prefix`
   * @param options endpoint, region, credentials, addressing and timeout ({@link S3StoreOptions})
   * @throws {ConfigError} (field `lakeUrl`) when the URL has no bucket or carries credentials
   */
  constructor(url: string, options: S3StoreOptions = {}) {
    const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
    if (!m?.[1]) throw new ConfigError('lakeUrl', 'an S3 lake URL is s3://bucket or s3://bucket/prefix');
    if (m[1].includes('@')) throw new ConfigError('lakeUrl', 'credentials do not belong in the S3 URL: write s3://bucket/prefix and give the access key / secret as settings or through the SDK\'s environment');
    this.bucket = m[1];
    const prefix = (m[2] ?? '').split('/').filter((p) => p !== '').join('/');
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.url = `s3://${this.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    // The SDK warns on stderr (once per process) that its releases after January 2027 need Node 22;
    // the lockfile pins this release, and a command's stderr is for its own messages.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
      requestHandler: { connectionTimeout: this.timeoutMs, requestTimeout: this.timeoutMs, throwOnRequestTimeout: true },
    });
  }

  /** The object's bytes; `undefined` when the key does not exist (NoSuchKey). */
  async get(key: string): Promise<Buffer | undefined> {
    return this.call('reading', key, async (abortSignal) => {
      try {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.root + key }), { abortSignal });
        if (out.Body === undefined) return Buffer.alloc(0);
        const body = out.Body;
        // The signal bounds the request; reading the body is bounded here (an aborted read destroys the stream).
        const onAbort = (): void => (body as unknown as { destroy?: (e: Error) => void }).destroy?.(new Error('timed out reading the body'));
        abortSignal.addEventListener('abort', onAbort, { once: true });
        try {
          return Buffer.from(await body.transformToByteArray());
        } finally {
          abortSignal.removeEventListener('abort', onAbort);
        }
      } catch (err) {
        if (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || (err.name === 'NotFound' && err.$metadata.httpStatusCode === 404))) return undefined;
        throw err;
      }
    });
  }

  /**
   * Writes the whole object (one PutObject). With `ifAbsent`, sends
   * `If-None-Match: *`.
   *
   * When the SDK retried a conditional put (the first attempt's answer was
   * lost) and the retry found the key taken, the first attempt may have been
   * ours: the stored object is read back and, if its bytes are ours, the put
   * counts as a success.
   * @throws {ObjectExistsError} with `ifAbsent` when the key exists (HTTP 412, or 409 ConditionalRequestConflict)
   */
  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<void> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    let retriedTo412 = false;
    await this.call('writing', key, async (abortSignal) => {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.root + key, Body: bytes, ContentLength: bytes.length, ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}) }), { abortSignal });
      } catch (err) {
        if (options.ifAbsent && err instanceof S3ServiceException && isConditionalRefusal(err)) {
          if ((err.$metadata.attempts ?? 1) <= 1) throw new ObjectExistsError(key, this.url);
          retriedTo412 = true;
          return;
        }
        throw err;
      }
    });
    if (retriedTo412) {
      const stored = await this.get(key);
      if (stored === undefined || !stored.equals(bytes)) throw new ObjectExistsError(key, this.url);
    }
  }

  /** Every object whose key starts with `prefix` (ListObjectsV2, all pages), keys relative to the URL's prefix, sorted by key (byte order). */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('listing', prefix, (abortSignal) =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.root + prefix, ...(token === undefined ? {} : { ContinuationToken: token }) }), { abortSignal }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.root)) continue;
        out.push({ key: o.Key.slice(this.root.length), size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => byteOrder(a.key, b.key));
  }

  /**
   * Deletes the keys with DeleteObjects, 1000 keys a request; absent keys are
   * not an error.
   * @throws {ObjectStoreError} naming the first refused keys when the server reports per-key errors
   */
  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const first = batch[0] ?? '';
      const out = await this.call('deleting', first, (abortSignal) =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.root + k })), Quiet: true } }), { abortSignal }),
      );
      const errors = out.Errors ?? [];
      if (errors.length > 0) {
        const shown = errors
          .slice(0, 5)
          .map((e) => `${(e.Key ?? '?').slice(this.root.length)}: ${e.Code ?? 'error'}${e.Message ? ` (${e.Message})` : ''}`)
          .join('; ');
        const retriable = errors.every((e) => e.Code === 'InternalError' || e.Code === 'SlowDown' || e.Code === 'ServiceUnavailable');
        throw new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `deleting ${errors.length} of ${batch.length} keys under ${this.url} failed: ${shown}${errors.length > 5 ? '; ...' : ''}`, { retriable });
      }
    }
  }

  /** Releases the client's sockets; the store is unusable afterwards. */
  close(): void {
    this.client.destroy();
  }

  /** Runs one SDK call under the store's deadline and turns its failures into {@link ObjectStoreError}. */
  private async call<T>(op: string, key: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), this.timeoutMs);
    try {
      return await fn(ctl.signal);
    } catch (err) {
      if (err instanceof ObjectStoreError) throw err;
      throw this.translate(op, key, err, ctl.signal.aborted);
    } finally {
      clearTimeout(timer);
    }
  }

  private translate(op: string, key: string, err: unknown, timedOut: boolean): ObjectStoreError {
    const where = `${op} ${this.url}/${key}`;
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? 'Error';
    const opts = (retriable: boolean): { cause: unknown; retriable: boolean } => ({ cause: err, retriable });
    if (timedOut || name === 'TimeoutError' || name === 'AbortError' || name === 'RequestTimeout')
      return new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${where} failed: no answer within ${this.timeoutMs} ms (requestTimeoutMs); is the endpoint up and reachable?`, opts(true));
    if (name === 'NoSuchBucket')
      return new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${where} failed: bucket ${this.bucket} does not exist (NoSuchBucket); create the bucket or fix the lake URL`, opts(false));
    if (status === 401 || status === 403) {
      const fix = name === 'AccessDenied' ? 'check the access key / secret and that the key may use this bucket (its policy)' : 'check the access key / secret';
      return new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${where} failed: the server refused the credentials (HTTP ${status} ${name}); ${fix}`, opts(false));
    }
    if (status !== undefined) {
      const retriable = status >= 500 || status === 429 || name === 'SlowDown';
      return new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${where} failed: HTTP ${status} ${name}: ${e.message ?? ''}`, opts(retriable));
    }
    const network = e.code !== undefined && NETWORK_CODES.has(e.code);
    return new ObjectStoreError(ObjectStoreErrorCode.Unavailable, `${where} failed: ${e.code ?? name}: ${e.message ?? String(err)}${network ? '; is the endpoint up and reachable?' : ''}`, opts(network));
  }
}

/** 412 Precondition Failed, or 409 ConditionalRequestConflict (a concurrent conditional write to the key). */
function isConditionalRefusal(err: S3ServiceException): boolean {
  const status = err.$metadata.httpStatusCode;
  return status === 412 || err.name === 'PreconditionFailed' || (status === 409 && err.name === 'ConditionalRequestConflict');
}
