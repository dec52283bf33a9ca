/**
 * Credentials of the HTTP dependencies (search engine, schema registry, Kafka
 * Connect REST): basic auth or a bearer token, each secret read through
 * src/secrets.ts's {@link Secret} at every request (so a rotated file is used
 * on the next request), and URLs shown without their user info.
 */
import { ConfigError } from './errors.ts';
import { Secret } from './secrets.ts';

/** Basic auth (RFC 7617) or a bearer token (RFC 6750) for one HTTP dependency. */
export type HttpCredentials = { kind: 'basic'; username: string; password: Secret } | { kind: 'bearer'; token: Secret };

/** A URL split into the URL without user info and the credentials it carried. */
export interface SplitUrl {
  /** The URL without `user:password@`. */
  url: string;
  /** The user and password of the URL (percent-decoded); undefined when it had none. */
  credentials?: { username: string; password: string };
}

/**
 * Splits `user:password@` off a URL (a URL without user info, or not a URL, is returned as is).
 */
export function splitUrl(url: string): SplitUrl {
  if (!URL.canParse(url)) return { url };
  const u = new URL(url);
  if (u.username === '' && u.password === '') return { url };
  const credentials = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  u.username = '';
  u.password = '';
  // new URL() adds a "/" path to a bare origin: keep the caller's spelling otherwise.
  const out = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1');
  return { url: URL.canParse(out) ? out : u.toString(), credentials };
}

/** A URL for people (logs, errors): `scheme://host[:port]/path`, never its user info or query. */
export function displayUrl(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)';
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The `Authorization` header value of credentials (reads the secret now). @throws {ConfigError} when a secret file cannot be read */
export function authorizationHeader(c: HttpCredentials): string {
  if (c.kind === 'bearer') return `Bearer ${c.token.reveal()}`;
  return `Basic ${Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64')}`;
}

/** The settings of one dependency's credentials, by config-file key. */
export interface CredentialSettings {
  /** The URL setting's key and value, e.g. `['connectUrl', 'http://u:p@connect:8083']`. */
  url: [key: string, value: string];
  username?: [key: string, value: string | undefined];
  password?: [key: string, value: string | undefined, file: string | undefined];
  token?: [key: string, value: string | undefined, file: string | undefined];
}

/**
 * The URL without user info and the credentials of one dependency from its
 * settings: a username with a password (or its file), a token (or its file),
 * or the user info of the URL (kept working; never printed).
 * @throws {ConfigError} naming the setting when a password lacks its user (or
 * the reverse), when basic auth and a token are both given, or when the URL
 * carries credentials as well as the settings
 */
export function credentialsOf(s: CredentialSettings): { url: string; credentials?: HttpCredentials } {
  const [urlKey, urlValue] = s.url;
  const split = splitUrl(urlValue);
  const [userKey, username] = s.username ?? ['', undefined];
  const password = s.password ? Secret.of(s.password[0], s.password[1], s.password[2]) : undefined;
  const token = s.token ? Secret.of(s.token[0], s.token[1], s.token[2]) : undefined;
  const passwordKey = s.password?.[0] ?? '';
  if (password && username === undefined) throw new ConfigError(userKey, `missing: ${passwordKey} is set, so the user it belongs to is needed`);
  if (username !== undefined && !password) throw new ConfigError(passwordKey, `missing: ${userKey} is set; give ${passwordKey} or ${passwordKey}File`);
  if (token && username !== undefined) throw new ConfigError(s.token![0], `give basic auth (${userKey}) or a bearer token, not both`);
  const configured = username !== undefined || token !== undefined;
  if (configured && split.credentials) throw new ConfigError(urlKey, `carries user:password@ and credentials settings are set too: remove the credentials from the URL`);
  if (username !== undefined && password) return { url: split.url, credentials: { kind: 'basic', username, password } };
  if (token) return { url: split.url, credentials: { kind: 'bearer', token } };
  if (split.credentials) {
    const fromUrl = Secret.of(urlKey, split.credentials.password, undefined)!;
    return { url: split.url, credentials: { kind: 'basic', username: split.credentials.username, password: fromUrl } };
  }
  return { url: split.url };
}

/** The secrets of credentials, for {@link redact}ing client error messages. */
export function secretsOf(c: HttpCredentials | undefined): Secret[] {
  if (!c) return [];
  return c.kind === 'basic' ? [c.password] : [c.token];
}
