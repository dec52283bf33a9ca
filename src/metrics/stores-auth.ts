/**
 * Access to `/stores` (src/metrics/server.ts): off unless `storesEnabled`,
 * and then only for requests carrying the bearer token `storesToken` (or
 * the content of `storesTokenFile`, re-read when the file changes, so a
 * rotated Kubernetes Secret is accepted without a restart).
 *
 * `/stores` serves any row of any mirrored table (emails, addresses), so the
 * token is compared in constant time: both sides are hashed with SHA-256
 * and the digests compared with `crypto.timingSafeEqual`, which leaks
 * neither the token's content nor its length through response times.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { Secret } from '../secrets.ts';

/** Shortest token accepted, characters (a guessable token would open every row). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Whether an `Authorization` header carries `token` as a bearer token
 * (`Bearer <token>`, scheme case-insensitive, RFC 6750 §2.1).
 * Constant time in the token's content and length.
 * @param header the request's Authorization header, if any
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const given = createHash('sha256').update(m?.[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  // Compare even without a header, so a missing one takes as long as a wrong one.
  return timingSafeEqual(given, expected) && m !== null && token.length > 0;
}

/**
 * The `/stores` token of a configuration: undefined when /stores is off;
 * else the Secret, read once now so a missing file or a short token stops
 * start-up rather than the first request.
 * @throws {ConfigError} when storesEnabled has no token (naming both settings), the file cannot be read, or the token is shorter than {@link MIN_TOKEN_LENGTH}
 */
export function storesToken(cfg: Pick<Config, 'storesEnabled' | 'storesToken' | 'storesTokenFile'>): Secret | undefined {
  if (!cfg.storesEnabled) return undefined;
  const secret = Secret.of('storesToken', cfg.storesToken, cfg.storesTokenFile);
  if (!secret) {
    throw new ConfigError(
      'CDCV_STORES_ENABLED',
      '/stores serves any row of any table, so it needs a bearer token: set CDCV_STORES_TOKEN_FILE (storesTokenFile, --stores-token-file: a file holding it) or CDCV_STORES_TOKEN, or leave /stores off',
    );
  }
  if (secret.reveal().length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(secret.file ? 'storesTokenFile' : 'storesToken', `the /stores token is shorter than ${MIN_TOKEN_LENGTH} characters; use a random one, e.g. from \`openssl rand -hex 32\``);
  }
  return secret;
}
