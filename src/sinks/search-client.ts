/**
 * The one factory of search-engine clients (the search sink, promote, drop):
 * `@opensearch-project/opensearch` with the connection's security settings —
 * basic auth read from a {@link Secret} at every request (a rotated password
 * file is used on the next request, so a sink retrying after a 401 picks it
 * up), a CA bundle for https (certificates always verified), or AWS SigV4
 * signing with the client's own `AwsSigv4Signer` (Amazon OpenSearch Service
 * and Serverless; credentials from the default AWS chain,
 * `@aws-sdk/credential-provider-node`). The client only ever sees the URL
 * without user info, so no error or log line of it can carry a password.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, errors } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { authorizationHeader, credentialsOf, displayUrl, secretsOf, type HttpCredentials } from '../http-auth.ts';
import { redact } from '../secrets.ts';

/** AWS credentials as the SigV4 signer takes them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** How to reach and authenticate to the search engine. */
export interface SearchConnection {
  /** The engine's URL without user info, e.g. `https://search:9200`. */
  url: string;
  /** Basic auth (from the settings or the URL's user info); none with {@link aws}. */
  credentials?: HttpCredentials;
  /** PEM CA bundle trusted for https, in place of the system CAs. */
  caFile?: string;
  /** AWS SigV4 signing. */
  aws?: {
    region: string;
    /** `es` (OpenSearch Service) or `aoss` (Serverless). */
    service: 'es' | 'aoss';
    /** @defaultValue the default AWS credential chain (`@aws-sdk/credential-provider-node`, loaded by the signer) */
    getCredentials?: () => Promise<AwsCredentials>;
  };
}

type SearchSettings = Pick<Config, 'opensearchUrl' | 'opensearchUsername' | 'opensearchPassword' | 'opensearchPasswordFile' | 'opensearchCaFile' | 'opensearchAwsRegion' | 'opensearchAwsService'>;

/**
 * The search connection of a configuration. Credentials in `opensearchUrl`
 * keep working (as basic auth) but the URL is kept without them.
 * @throws {ConfigError} when a password lacks its user or the reverse, when
 * credentials are in the URL and in the settings, or when basic auth and AWS
 * signing are both configured
 */
export function searchConnection(cfg: SearchSettings): SearchConnection {
  const { url, credentials } = credentialsOf({
    url: ['opensearchUrl', cfg.opensearchUrl],
    username: ['opensearchUsername', cfg.opensearchUsername],
    password: ['opensearchPassword', cfg.opensearchPassword, cfg.opensearchPasswordFile],
  });
  if (cfg.opensearchAwsRegion !== undefined && credentials) throw new ConfigError('opensearchAwsRegion', 'AWS SigV4 signing and basic auth (opensearchUsername or user:password@ in opensearchUrl) exclude each other: give one');
  return {
    url,
    ...(credentials ? { credentials } : {}),
    ...(cfg.opensearchCaFile !== undefined ? { caFile: cfg.opensearchCaFile } : {}),
    ...(cfg.opensearchAwsRegion !== undefined ? { aws: { region: cfg.opensearchAwsRegion, service: cfg.opensearchAwsService } } : {}),
  };
}

/** A plain URL (tests, `http://localhost:9200`) or a connection, as a connection (user info moved to credentials). */
export function toSearchConnection(target: string | SearchConnection): SearchConnection {
  if (typeof target !== 'string') return target;
  return searchConnection({ opensearchUrl: target, opensearchUsername: undefined, opensearchPassword: undefined, opensearchPasswordFile: undefined, opensearchCaFile: undefined, opensearchAwsRegion: undefined, opensearchAwsService: 'es' });
}

/**
 * A Connection class that sets `Authorization` from the credentials at every
 * request (rotation without a new client). A secret file that cannot be read
 * fails the request with the {@link ConfigError} (the transport's callback),
 * as a connection failure would.
 */
function authenticatingConnection(credentials: HttpCredentials): typeof Connection {
  return class AuthenticatingConnection extends Connection {
    override request(params: Parameters<Connection['request']>[0], callback: Parameters<Connection['request']>[1]): ReturnType<Connection['request']> {
      let authorization: string;
      try {
        authorization = authorizationHeader(credentials);
      } catch (err) {
        callback(err as Error, null);
        // As Connection.request does for a path it refuses: nothing was sent, nothing to abort.
        return { abort: () => undefined } as unknown as ReturnType<Connection['request']>;
      }
      return super.request({ ...params, headers: { ...params.headers, authorization } }, callback);
    }
  };
}

/** Options of {@link createSearchClient}. */
export interface SearchClientOptions {
  /** Timeout of one request, ms. */
  requestTimeout: number;
  /** The client's own retries (the sink retries itself: 0). */
  maxRetries: number;
}

/**
 * A search-engine client for a connection.
 * @throws {ConfigError} opensearchCaFile when the CA file cannot be read
 */
export function createSearchClient(target: string | SearchConnection, options: SearchClientOptions): Client {
  const conn = toSearchConnection(target);
  let ca: Buffer | undefined;
  if (conn.caFile !== undefined) {
    try {
      ca = readFileSync(conn.caFile);
    } catch (err) {
      throw new ConfigError('opensearchCaFile', `cannot read ${conn.caFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give a PEM CA bundle`);
    }
  }
  const signing = conn.aws ? AwsSigv4Signer({ region: conn.aws.region, service: conn.aws.service, ...(conn.aws.getCredentials ? { getCredentials: conn.aws.getCredentials } : {}) }) : undefined;
  return new Client({
    node: conn.url,
    maxRetries: options.maxRetries,
    requestTimeout: options.requestTimeout,
    // Verification stays on (rejectUnauthorized defaults to true); only the trusted CAs change.
    ...(ca ? { ssl: { ca } } : {}),
    ...(signing ? { Connection: signing.Connection, Transport: signing.Transport } : {}),
    ...(conn.credentials ? { Connection: authenticatingConnection(conn.credentials) } : {}),
  });
}

/** TLS failures of node's https (certificate not trusted, wrong host name, expired). */
const TLS_FAILURE = /certificate|self[- ]signed|altname|unable to verify|ssl|tls|wrong version number/i;

/** A failure about credentials (401, 403) or TLS (an untrusted certificate): an operator must act. */
export function isSecurityFailure(err: unknown): boolean {
  if (err instanceof errors.ResponseError) return err.statusCode === 401 || err.statusCode === 403;
  return err instanceof errors.ConnectionError && TLS_FAILURE.test(err.message);
}

/**
 * The cause of a failed search request for people, in one line: the status
 * and what to check, or the TLS/connection problem; never a credential (the
 * client's message is redacted).
 * @param conn the connection: its secrets are redacted, its URL named unless `nameUrl` is false
 */
export function describeSearchError(err: unknown, conn?: SearchConnection, nameUrl = true): string {
  const secrets = secretsOf(conn?.credentials);
  const where = conn && nameUrl ? ` at ${displayUrl(conn.url)}` : '';
  if (err instanceof errors.ResponseError) {
    const hint: Record<number, string> = {
      401: `the search engine${where} refuses the credentials (401): check the configured user and password (rotated? the password file is re-read at each retry)`,
      403: `the search engine${where} denies the user (403): grant it the documented permissions on the index`,
      404: 'the index does not exist (404): was it deleted? restart the application to create it again, or replay into a new version',
    };
    const body = err.body as { error?: { reason?: string } | string } | undefined;
    const reason = typeof body?.error === 'string' ? body.error : (body?.error?.reason ?? err.message);
    return hint[err.statusCode] ?? redact(`the search engine${where} answered ${err.statusCode}: ${reason}`, secrets).split('\n')[0]!;
  }
  const message = redact(err instanceof Error ? err.message : String(err), secrets).split('\n')[0]!;
  if (err instanceof errors.ConnectionError && TLS_FAILURE.test(message)) {
    return `TLS to the search engine${where} failed: ${message}; set opensearchCaFile (CDCV_OPENSEARCH_CA_FILE) to the CA that signed its certificate`;
  }
  return message;
}
