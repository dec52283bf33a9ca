/**
 * OAUTHBEARER token providers for Kafka (KafkaJS asks for a token at each
 * (re)authentication of a connection):
 * - {@link commandTokenProvider}: a command prints the token (e.g. reads a
 *   projected service-account token, or calls a CLI of the identity provider);
 *   run at each authentication, so it decides about caching;
 * - {@link clientCredentialsTokenProvider}: the OAuth 2.0 client-credentials
 *   grant (RFC 6749 §4.4) at a token endpoint, as Kafka's own
 *   OAuthBearerLoginCallbackHandler does (KIP-768): client id and secret in an
 *   HTTP Basic header, the token cached until shortly before it expires.
 * Neither logs nor returns a secret in an error.
 */
import { execFile } from 'node:child_process';
import kafkajs, { type AuthenticationProviderArgs, type Mechanism } from 'kafkajs';
import { CdcViewsError } from '../errors.ts';
import { redact, type Secret } from '../secrets.ts';

/** Gives the current access token. */
export interface TokenProvider {
  /** @throws {CdcViewsError} KAFKA_SASL_AUTH_FAILED naming the setting when no token can be had */
  token(): Promise<string>;
}

const failed = (message: string, cause?: unknown): CdcViewsError => new CdcViewsError('KAFKA_SASL_AUTH_FAILED', message, cause === undefined ? {} : { cause });

/**
 * Runs `command` with /bin/sh at each call; its stdout, trimmed, is the token.
 * @param timeoutMs how long the command may run, ms @defaultValue 30000
 */
export function commandTokenProvider(command: string, timeoutMs = 30_000): TokenProvider {
  return {
    token: () =>
      new Promise((resolve, reject) => {
        execFile('/bin/sh', ['-c', command], { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
          if (err) {
            const why = err.killed ? `did not finish within ${timeoutMs} ms` : `exited ${err.code ?? err.signal ?? '?'}`;
            const detail = stderr.trim().split('\n')[0]?.slice(0, 200);
            return reject(failed(`kafkaSaslOauthTokenCommand ${why}${detail ? `: ${detail}` : ''}; fix the command (CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND) so it prints an access token`, err));
          }
          const token = stdout.trim();
          if (token === '' || /\s/.test(token)) return reject(failed(`kafkaSaslOauthTokenCommand printed ${token === '' ? 'nothing' : 'more than one word'}; it must print only the access token (CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND)`));
          resolve(token);
        });
      }),
  };
}

/** Options of {@link clientCredentialsTokenProvider}. */
export interface ClientCredentialsOptions {
  /** The token endpoint (https in production). */
  endpoint: string;
  clientId: string;
  /** Read at each token request, so a rotated secret file is used by the next one. */
  clientSecret: Secret;
  /** Space-separated scopes. @defaultValue none (the provider's default) */
  scope?: string | undefined;
  /** @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
  /** The clock, ms. @defaultValue Date.now */
  now?: () => number;
  /** How long a request may take, ms. @defaultValue 10000 */
  timeoutMs?: number;
}

/** `application/x-www-form-urlencoded` encoding of a client id or secret before Basic (RFC 6749 §2.3.1). */
const formEncode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');

/**
 * The client-credentials grant with a cached token: a new one is requested
 * when less than a tenth of its lifetime (at most 60 s) is left; a token
 * without `expires_in` is used for 5 minutes. Concurrent callers share one request.
 */
export function clientCredentialsTokenProvider(o: ClientCredentialsOptions): TokenProvider {
  const doFetch = o.fetch ?? globalThis.fetch;
  const now = o.now ?? Date.now;
  let cached: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const endpoint = new URL(o.endpoint);
  endpoint.username = '';
  endpoint.password = '';

  const request = async (): Promise<string> => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', ...(o.scope ? { scope: o.scope } : {}) });
    const secret = o.clientSecret;
    const basic = Buffer.from(`${formEncode(o.clientId)}:${formEncode(secret.reveal())}`).toString('base64');
    const started = now();
    let res: Response;
    try {
      res = await doFetch(o.endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw failed(`the OAuth token endpoint ${endpoint.href} (kafkaSaslOauthTokenEndpoint) cannot be reached: ${redact(err instanceof Error ? err.message : String(err), [secret])}`, err);
    }
    const text = await res.text();
    let json: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      // reported below
    }
    if (!res.ok || typeof json.access_token !== 'string' || json.access_token === '') {
      const why = typeof json.error === 'string' ? `${json.error}${typeof json.error_description === 'string' ? `: ${json.error_description}` : ''}` : res.ok ? 'no access_token in the answer' : text.slice(0, 200);
      throw failed(redact(`the OAuth token endpoint ${endpoint.href} answered ${res.status} (${why}); check kafkaSaslOauthClientId, kafkaSaslOauthClientSecret(File) and kafkaSaslOauthScope`, [secret]));
    }
    const lifetimeMs = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in * 1000 : 300_000;
    cached = { token: json.access_token, refreshAt: started + lifetimeMs - Math.min(60_000, lifetimeMs / 10) };
    return json.access_token;
  };

  return {
    token: () => {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      pending ??= request().finally(() => (pending = undefined));
      return pending;
    },
  };
}

/** Bytes as SaslAuthenticate carries them: an int32 length, then the bytes (KafkaJS Encoder.writeBytes). */
function sized(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeInt32BE(body.length);
  body.copy(out, 4);
  return out;
}

// Its type declaration has no constructor arguments; the class takes a message.
const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;

/**
 * The SASL/OAUTHBEARER mechanism (RFC 7628) with a token from `provider` at
 * each authentication. Unlike KafkaJS's built-in one, it reads the broker's
 * answer: a broker refusing the token answers with an error challenge (e.g.
 * `{"status":"invalid_token"}`) instead of failing the request, which KafkaJS
 * takes for success and then loses the connection ("No brokers in the broker
 * pool"); here that challenge fails the login with the broker's words.
 */
export function oauthBearerMechanism(provider: TokenProvider): Mechanism {
  return {
    mechanism: 'oauthbearer',
    authenticationProvider: ({ host, port, saslAuthenticate }: AuthenticationProviderArgs) => ({
      authenticate: async () => {
        const token = await provider.token();
        // The client's first message (RFC 7628 §3.1): GS2 header, auth=Bearer <token>, no extensions.
        const request = { encode: () => sized(Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`)) };
        const response = { decode: (b: Buffer) => Promise.resolve(b), parse: (b: Buffer) => Promise.resolve(b) };
        const answer = (await saslAuthenticate({ request, response })) as Buffer | undefined;
        const challenge = answer && answer.length > 4 ? answer.subarray(4).toString('utf8') : '';
        if (challenge !== '') throw new SaslError(`SASL OAUTHBEARER authentication failed: the broker at ${host}:${port} refused the token (${challenge.slice(0, 300)})`);
      },
    }),
  };
}
