/**
 * Kafka connection security from the settings (src/config.ts, "Kafka
 * security"): TLS (CA bundle, client certificate for mutual TLS, hostname
 * verification) and SASL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER, AWS MSK IAM)
 * as KafkaJS `ssl` and `sasl` options. Every KafkaJS client of cdc-views gets
 * them through src/kafka/client.ts.
 *
 * Credentials are read late: KafkaJS authenticates each new connection and
 * reads the password (a getter here) or asks the token provider then, so a
 * rotated password file or token is used by the next connection; the TLS
 * files are read again when they change, at the next connection.
 */
import type { ConnectionOptions } from 'node:tls';
import { createMechanism } from '@jm18457/kafkajs-msk-iam-authentication-mechanism';
import type { Mechanism, SASLOptions } from 'kafkajs';
import { SETTINGS, type Config, type SettingKey } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { Secret } from '../secrets.ts';
import { clientCredentialsTokenProvider, commandTokenProvider, oauthBearerMechanism, type TokenProvider } from './oauth.ts';

/** The settings of this module: every command that talks to Kafka takes them (src/cli/options.ts). */
export const KAFKA_SECURITY_SETTINGS = [
  'kafkaSsl',
  'kafkaSslCaFile',
  'kafkaSslCertFile',
  'kafkaSslKeyFile',
  'kafkaSslVerifyHostname',
  'kafkaSaslMechanism',
  'kafkaSaslUsername',
  'kafkaSaslPasswordFile',
  'kafkaSaslOauthTokenCommand',
  'kafkaSaslOauthTokenEndpoint',
  'kafkaSaslOauthClientId',
  'kafkaSaslOauthClientSecretFile',
  'kafkaSaslOauthScope',
  'kafkaSaslAwsRegion',
] as const satisfies readonly SettingKey[];

/** The settings {@link kafkaSecurity} reads (the flagged ones and the two secret values). */
export type KafkaSecurityConfig = Pick<Config, (typeof KAFKA_SECURITY_SETTINGS)[number] | 'kafkaSaslPassword' | 'kafkaSaslOauthClientSecret'>;

/** What a KafkaJS client needs to connect securely, and what error messages may say about it. */
export interface KafkaSecurity {
  /** KafkaJS `ssl`: undefined without TLS. */
  ssl: ConnectionOptions | undefined;
  /** KafkaJS `sasl`: undefined without SASL. */
  sasl: SASLOptions | Mechanism | undefined;
  /** The SASL mechanism as configured, e.g. `scram-sha-512`. */
  mechanism: Config['kafkaSaslMechanism'];
  /** The principal ACLs are granted to, as kafka-acls.sh names it (`User:alice`), when the settings tell it. */
  principal: string | undefined;
  /** Every credential in use, for {@link import('../secrets.ts').redact} of client errors. */
  secrets: readonly Secret[];
}

/** A setting as a user may have given it: `kafkaSaslUsername (CDCV_KAFKA_SASL_USERNAME, --kafka-sasl-username)`. */
export function settingName(key: SettingKey): string {
  const spec = SETTINGS[key] as { env: string; flag?: string };
  return `${key} (${[spec.env, spec.flag?.split(' ')[0]].filter(Boolean).join(', ')})`;
}

/** A PEM file read when it changes (a Secret for its caching; never printed). */
function pemFile(key: 'kafkaSslCaFile' | 'kafkaSslCertFile' | 'kafkaSslKeyFile', file: string): Secret {
  // Secret names its errors `<setting>File`: give the key without its File suffix.
  return Secret.of(key.replace(/File$/, ''), undefined, file)!;
}

/** Defines a getter that reads a file each time it is read (KafkaJS copies `ssl` with Object.assign per connection). */
function lazy(target: ConnectionOptions, name: 'ca' | 'cert' | 'key', file: Secret): void {
  Object.defineProperty(target, name, { enumerable: true, get: () => file.reveal() });
}

function tlsOptions(c: KafkaSecurityConfig): ConnectionOptions | undefined {
  const files = (['kafkaSslCaFile', 'kafkaSslCertFile', 'kafkaSslKeyFile'] as const).filter((k) => c[k] !== undefined);
  if (!c.kafkaSsl) {
    if (files.length > 0) throw new ConfigError(settingName('kafkaSsl'), `is false but ${files.join(', ')} ${files.length > 1 ? 'are' : 'is'} set: set CDCV_KAFKA_SSL=true to connect with TLS, or unset ${files.join(', ')}`);
    if (!c.kafkaSslVerifyHostname) throw new ConfigError(settingName('kafkaSslVerifyHostname'), 'is false but kafkaSsl is not on: it only applies to TLS connections (set CDCV_KAFKA_SSL=true)');
    return undefined;
  }
  if ((c.kafkaSslCertFile === undefined) !== (c.kafkaSslKeyFile === undefined)) {
    const missing = c.kafkaSslCertFile === undefined ? 'kafkaSslCertFile' : 'kafkaSslKeyFile';
    throw new ConfigError(settingName(missing), `missing: mutual TLS needs both a client certificate and its key (kafkaSslCertFile and kafkaSslKeyFile); set ${SETTINGS[missing].env} or unset the other`);
  }
  const tls: ConnectionOptions = {};
  for (const k of files) {
    const file = pemFile(k, c[k]!);
    file.reveal(); // an unreadable file fails at start, naming the setting
    lazy(tls, k === 'kafkaSslCaFile' ? 'ca' : k === 'kafkaSslCertFile' ? 'cert' : 'key', file);
  }
  // Only the name check is skipped: rejectUnauthorized stays true, so the chain is still verified.
  if (!c.kafkaSslVerifyHostname) tls.checkServerIdentity = () => undefined;
  return tls;
}

/** A setting the mechanism needs. @throws {ConfigError} naming it and the mechanism */
function need<T>(value: T | undefined, key: SettingKey, mechanism: string): T {
  if (value === undefined) throw new ConfigError(settingName(key), `missing: kafkaSaslMechanism=${mechanism} needs it; expected ${SETTINGS[key].fix}`);
  return value;
}

/** Settings given that the mechanism does not use: a typo or a leftover, refused rather than ignored. */
function refuseUnused(c: KafkaSecurityConfig, used: readonly (keyof KafkaSecurityConfig)[], mechanism: string | undefined): void {
  const sasl = ['kafkaSaslUsername', 'kafkaSaslPassword', 'kafkaSaslPasswordFile', 'kafkaSaslOauthTokenCommand', 'kafkaSaslOauthTokenEndpoint', 'kafkaSaslOauthClientId', 'kafkaSaslOauthClientSecret', 'kafkaSaslOauthClientSecretFile', 'kafkaSaslOauthScope', 'kafkaSaslAwsRegion'] as const;
  const unused = sasl.filter((k) => c[k] !== undefined && !used.includes(k));
  if (unused.length === 0) return;
  const why = mechanism === undefined ? 'kafkaSaslMechanism is not set (no SASL)' : `kafkaSaslMechanism=${mechanism} does not use ${unused.length > 1 ? 'them' : 'it'}`;
  throw new ConfigError(settingName(unused[0]!), `is set but ${why}; set CDCV_KAFKA_SASL_MECHANISM or unset ${unused.join(', ')}`);
}

/** The password of plain/scram, read at each authentication (a getter: KafkaJS reads `sasl.password` then). */
function passwordSasl(mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username: string, password: Secret): SASLOptions {
  const sasl = { mechanism, username } as SASLOptions & { password: string };
  Object.defineProperty(sasl, 'password', { enumerable: false, get: () => password.reveal() });
  return sasl;
}

/** Options of {@link kafkaSecurity}. */
export interface KafkaSecurityOptions {
  /** Makes OAuth token requests (tests). @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * The KafkaJS `ssl` and `sasl` options for the settings, validated.
 * @throws {ConfigError} naming the setting: a mechanism without the settings it needs (the
 *   error names each missing one), settings the mechanism does not use, TLS files without
 *   kafkaSsl, a certificate without its key, an unreadable file, a value and its file both set
 */
export function kafkaSecurity(c: KafkaSecurityConfig, options: KafkaSecurityOptions = {}): KafkaSecurity {
  const ssl = tlsOptions(c);
  const m = c.kafkaSaslMechanism;
  const base = { ssl, mechanism: m };
  switch (m) {
    case undefined:
      refuseUnused(c, [], m);
      return { ...base, sasl: undefined, principal: ssl?.cert === undefined ? undefined : 'User:<the certificate subject>', secrets: [] };
    case 'plain':
    case 'scram-sha-256':
    case 'scram-sha-512': {
      refuseUnused(c, ['kafkaSaslUsername', 'kafkaSaslPassword', 'kafkaSaslPasswordFile'], m);
      const username = need(c.kafkaSaslUsername, 'kafkaSaslUsername', m);
      const password = need(Secret.of('kafkaSaslPassword', c.kafkaSaslPassword, c.kafkaSaslPasswordFile), 'kafkaSaslPassword', m);
      password.reveal(); // an unreadable password file fails at start
      return { ...base, sasl: passwordSasl(m, username, password), principal: `User:${username}`, secrets: [password] };
    }
    case 'oauthbearer': {
      const endpointKeys = ['kafkaSaslOauthTokenEndpoint', 'kafkaSaslOauthClientId', 'kafkaSaslOauthClientSecret', 'kafkaSaslOauthClientSecretFile', 'kafkaSaslOauthScope'] as const;
      let provider: TokenProvider;
      let secrets: Secret[] = [];
      if (c.kafkaSaslOauthTokenCommand !== undefined) {
        refuseUnused(c, ['kafkaSaslOauthTokenCommand'], `${m} with kafkaSaslOauthTokenCommand`);
        provider = commandTokenProvider(c.kafkaSaslOauthTokenCommand);
      } else {
        if (c.kafkaSaslOauthTokenEndpoint === undefined) {
          throw new ConfigError(settingName('kafkaSaslOauthTokenCommand'), 'missing: kafkaSaslMechanism=oauthbearer needs a token source: kafkaSaslOauthTokenCommand (a command printing a token), or kafkaSaslOauthTokenEndpoint with kafkaSaslOauthClientId and kafkaSaslOauthClientSecret (client-credentials grant)');
        }
        refuseUnused(c, endpointKeys, m);
        const clientId = need(c.kafkaSaslOauthClientId, 'kafkaSaslOauthClientId', `${m} with a token endpoint`);
        const clientSecret = need(Secret.of('kafkaSaslOauthClientSecret', c.kafkaSaslOauthClientSecret, c.kafkaSaslOauthClientSecretFile), 'kafkaSaslOauthClientSecret', `${m} with a token endpoint`);
        clientSecret.reveal();
        secrets = [clientSecret];
        provider = clientCredentialsTokenProvider({ endpoint: c.kafkaSaslOauthTokenEndpoint, clientId, clientSecret, scope: c.kafkaSaslOauthScope, ...(options.fetch ? { fetch: options.fetch } : {}) });
      }
      return { ...base, sasl: oauthBearerMechanism(provider), principal: 'the principal of the token (its sub claim)', secrets };
    }
    case 'aws': {
      refuseUnused(c, ['kafkaSaslAwsRegion'], m);
      const region = need(c.kafkaSaslAwsRegion, 'kafkaSaslAwsRegion', m);
      if (!ssl) throw new ConfigError(settingName('kafkaSsl'), 'must be true with kafkaSaslMechanism=aws: MSK IAM authentication runs over TLS only (port 9098, or 9198 for public access)');
      // Credentials: the default AWS chain (env, shared config/SSO, web identity/IRSA, ECS, EC2), resolved at each authentication.
      return { ...base, sasl: createMechanism({ region }), principal: 'the IAM role of the AWS credentials', secrets: [] };
    }
  }
}
