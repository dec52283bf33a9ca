/**
 * Credentials of the schema registry: basic auth (`schemaRegistryUsername` +
 * `schemaRegistryPassword`, e.g. a Confluent Cloud API key and secret) or a
 * bearer token (`schemaRegistryToken`, e.g. an OAuth access token for
 * Apicurio), each read from its secret at every request (a rotated file is
 * used at once). The URL's user info keeps working as basic auth; the URL is
 * only ever used, and shown, without it.
 *
 * A 401 or 403 from the registry is {@link RegistryAuthError}: retriable (the
 * partition waits, nothing goes to the DLQ) and marked for an operator —
 * never mistaken for an unknown schema id.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config.ts';
import { CdcViewsError } from '../errors.ts';
import { authorizationHeader, credentialsOf, type HttpCredentials } from '../http-auth.ts';

/** Error code of {@link RegistryAuthError} (a metric label). */
export const REGISTRY_AUTH_FAILED = 'REGISTRY_AUTH_FAILED';

/**
 * The registry refuses the credentials (401) or the user (403). Retriable —
 * a rotated secret is read at the next attempt — and {@link needsOperator}.
 */
export class RegistryAuthError extends CdcViewsError {
  /** Time alone does not fix it: the credentials or the user's permissions must change. */
  readonly needsOperator = true;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(REGISTRY_AUTH_FAILED, message, { ...options, retriable: true });
  }
}

/** The registry's URL (without user info) and credentials, as the Avro decoder and `types generate` take them. */
export interface RegistryConnection {
  registryUrl: string;
  credentials?: HttpCredentials;
}

type RegistrySettings = Pick<Config, 'schemaRegistryUrl' | 'schemaRegistryUsername' | 'schemaRegistryPassword' | 'schemaRegistryPasswordFile' | 'schemaRegistryToken' | 'schemaRegistryTokenFile'>;

/**
 * The registry connection of a configuration.
 * @throws {ConfigError} when a password lacks its user or the reverse, when
 * basic auth and a token are both given, or credentials are in the URL and in the settings
 */
export function registryConnection(cfg: RegistrySettings): RegistryConnection {
  const { url, credentials } = credentialsOf({
    url: ['schemaRegistryUrl', cfg.schemaRegistryUrl],
    username: ['schemaRegistryUsername', cfg.schemaRegistryUsername],
    password: ['schemaRegistryPassword', cfg.schemaRegistryPassword, cfg.schemaRegistryPasswordFile],
    token: ['schemaRegistryToken', cfg.schemaRegistryToken, cfg.schemaRegistryTokenFile],
  });
  return { registryUrl: url, ...(credentials ? { credentials } : {}) };
}

type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

/** A mappersmith middleware of the registry client that sets `Authorization` at every request (the secret read then). */
export function authMiddleware(credentials: HttpCredentials): Middleware {
  return () => ({
    async prepareRequest(next) {
      const request = await next();
      return request.enhance({ headers: { authorization: authorizationHeader(credentials) } });
    },
  });
}

/** Headers of a plain `fetch` to the registry (its `Authorization`, when credentials are set). */
export function registryHeaders(credentials: HttpCredentials | undefined): Record<string, string> {
  return credentials ? { authorization: authorizationHeader(credentials) } : {};
}
