/**
 * Settings of the Kafka connection: brokers, TLS and SASL (#15).
 * Part of src/config.ts `SETTINGS`; the order here is the order of `--help` and docs/configuration.md.
 */
import { z } from 'zod';
import { setting, url } from './spec.ts';

export const KAFKA_SETTINGS = {
  kafkaBrokers: setting({
    env: 'CDCV_KAFKA_BROKERS',
    flag: '--kafka-brokers <list>',
    schema: z.string().trim().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port[,host:port…]').default('localhost:9092'),
    doc: 'Kafka bootstrap servers, comma-separated',
    fix: 'a comma-separated host:port list, e.g. localhost:9092',
  }),
  // --- Kafka security (#15) ---
  kafkaSsl: setting({
    env: 'CDCV_KAFKA_SSL',
    flag: '--kafka-ssl [bool]',
    schema: z.preprocess((v) => (typeof v === 'string' ? ({ true: true, false: false, 1: true, 0: false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v), z.boolean()).default(false),
    doc: 'connect to Kafka with TLS (SSL or SASL_SSL listeners); the broker chain is verified against kafkaSslCaFile, else the public CAs',
    fix: 'true or false',
  }),
  kafkaSslCaFile: setting({ env: 'CDCV_KAFKA_SSL_CA_FILE', flag: '--kafka-ssl-ca-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM bundle of the CAs that sign the brokers’ certificates (default: the public CAs); re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/ca.pem' }),
  kafkaSslCertFile: setting({ env: 'CDCV_KAFKA_SSL_CERT_FILE', flag: '--kafka-ssl-cert-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM client certificate (chain) for mutual TLS, with kafkaSslKeyFile; re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/tls.crt' }),
  kafkaSslKeyFile: setting({ env: 'CDCV_KAFKA_SSL_KEY_FILE', flag: '--kafka-ssl-key-file <path>', schema: z.string().trim().min(1).optional(), doc: 'PEM private key (unencrypted) of kafkaSslCertFile, for mutual TLS; re-read when it changes', fix: 'the path of a PEM file, e.g. /etc/kafka/tls.key' }),
  kafkaSslVerifyHostname: setting({
    env: 'CDCV_KAFKA_SSL_VERIFY_HOSTNAME',
    flag: '--kafka-ssl-verify-hostname <bool>',
    schema: z.preprocess((v) => (typeof v === 'string' ? ({ true: true, false: false, 1: true, 0: false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v), z.boolean()).default(true),
    doc: 'check that a broker’s certificate names the host connected to; false skips only that check, never the chain',
    fix: 'true or false',
  }),
  kafkaSaslMechanism: setting({
    env: 'CDCV_KAFKA_SASL_MECHANISM',
    flag: '--kafka-sasl-mechanism <mechanism>',
    schema: z.enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer', 'aws']).optional(),
    doc: 'SASL mechanism of the Kafka login (none: no SASL); aws is AWS MSK IAM',
    fix: 'one of plain, scram-sha-256, scram-sha-512, oauthbearer, aws',
  }),
  kafkaSaslUsername: setting({ env: 'CDCV_KAFKA_SASL_USERNAME', flag: '--kafka-sasl-username <name>', schema: z.string().min(1).optional(), doc: 'SASL user (plain, scram-sha-256, scram-sha-512)', fix: 'a user name' }),
  kafkaSaslPassword: setting({ env: 'CDCV_KAFKA_SASL_PASSWORD', schema: z.string().min(1).optional(), secret: true, doc: 'SASL password (plain, scram-*); prefer kafkaSaslPasswordFile', fix: 'the password, or use CDCV_KAFKA_SASL_PASSWORD_FILE' }),
  kafkaSaslPasswordFile: setting({ env: 'CDCV_KAFKA_SASL_PASSWORD_FILE', flag: '--kafka-sasl-password-file <path>', schema: z.string().trim().min(1).optional(), doc: 'file holding the SASL password, read at each login (a rotated file is used by new connections)', fix: 'the path of a file, e.g. /var/run/secrets/kafka/password' }),
  kafkaSaslOauthTokenCommand: setting({
    env: 'CDCV_KAFKA_SASL_OAUTH_TOKEN_COMMAND',
    flag: '--kafka-sasl-oauth-token-command <command>',
    schema: z.string().trim().min(1).optional(),
    doc: 'oauthbearer: a shell command printing an access token on stdout, run at each (re)authentication',
    fix: 'a command, e.g. "cat /var/run/secrets/tokens/kafka"',
  }),
  kafkaSaslOauthTokenEndpoint: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_TOKEN_ENDPOINT', flag: '--kafka-sasl-oauth-token-endpoint <url>', schema: url(/^https?:\/\//, 'https://').optional(), doc: 'oauthbearer: OAuth 2 token endpoint (client-credentials grant); the token is cached until it expires', fix: 'an http(s) URL, e.g. https://idp.example.com/oauth2/token' }),
  kafkaSaslOauthClientId: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_ID', flag: '--kafka-sasl-oauth-client-id <id>', schema: z.string().min(1).optional(), doc: 'oauthbearer: client id at the token endpoint', fix: 'the client id registered at the identity provider' }),
  kafkaSaslOauthClientSecret: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET', schema: z.string().min(1).optional(), secret: true, doc: 'oauthbearer: client secret at the token endpoint; prefer kafkaSaslOauthClientSecretFile', fix: 'the secret, or use CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE' }),
  kafkaSaslOauthClientSecretFile: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_CLIENT_SECRET_FILE', flag: '--kafka-sasl-oauth-client-secret-file <path>', schema: z.string().trim().min(1).optional(), doc: 'file holding the OAuth client secret, read at each token request', fix: 'the path of a file' }),
  kafkaSaslOauthScope: setting({ env: 'CDCV_KAFKA_SASL_OAUTH_SCOPE', flag: '--kafka-sasl-oauth-scope <scope>', schema: z.string().trim().min(1).optional(), doc: 'oauthbearer: scope requested from the token endpoint (none: the provider’s default)', fix: 'space-separated scopes, e.g. kafka' }),
  kafkaSaslAwsRegion: setting({ env: 'CDCV_KAFKA_SASL_AWS_REGION', flag: '--kafka-sasl-aws-region <region>', schema: z.string().trim().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region').optional(), doc: 'aws (MSK IAM): region of the cluster; credentials come from the default AWS chain (env, profile, web identity, ECS, EC2)', fix: 'an AWS region, e.g. eu-west-1' }),
} as const;
