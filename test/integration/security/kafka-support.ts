/**
 * The stack's SASL_SSL Kafka listener (scripts/stack/kafka-security.sh):
 * localhost:$CDCV_STACK_KAFKA_SASL_PORT, SCRAM-SHA-512/256, PLAIN and
 * OAUTHBEARER (unsecured JWTs), mutual TLS with the stack's CA, ACLs on.
 * Settings for its users as the CLI takes them, in-process clients, and ACLs
 * granted through the PLAINTEXT listener (whose User:ANONYMOUS is a super user).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import kafkajs, { logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../../../src/config.ts';
import { createKafkaClient } from '../../../src/kafka/client.ts';
import type { AclTemplate } from '../../../src/kafka/acls.ts';
import { kafkaSecurity } from '../../../src/kafka/security.ts';
import { brokers } from '../helpers.ts';

const { Kafka, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

export const STACK_DIR = resolve(process.env.CDCV_STACK_DIR ?? '.stack');
export const TLS_DIR = process.env.CDCV_STACK_KAFKA_TLS_DIR ?? join(STACK_DIR, 'kafka-tls');
export const SASL_PORT = Number(process.env.CDCV_STACK_KAFKA_SASL_PORT ?? 9094);
export const SASL_BROKERS = `localhost:${SASL_PORT}`;

if (!existsSync(join(TLS_DIR, 'ca.pem'))) throw new Error(`${join(TLS_DIR, 'ca.pem')} missing: run npm run stack:up (it creates the SASL_SSL listener), or set CDCV_STACK_DIR to the stack folder`);

/** A SASL user's password file (written by kafka-security.sh). */
export const passwordFile = (user: string): string => join(TLS_DIR, `${user}.password`);
export const passwordOf = (user: string): string => readFileSync(passwordFile(user), 'utf8').trim();

/** TLS settings: the stack's CA and the client certificate (the listener requires one). */
export const TLS_ENV = {
  CDCV_KAFKA_BROKERS: SASL_BROKERS,
  CDCV_KAFKA_SSL: 'true',
  CDCV_KAFKA_SSL_CA_FILE: join(TLS_DIR, 'ca.pem'),
  CDCV_KAFKA_SSL_CERT_FILE: join(TLS_DIR, 'client.pem'),
  CDCV_KAFKA_SSL_KEY_FILE: join(TLS_DIR, 'client.key'),
};

/** The environment of a command logging in as a SCRAM user (password from its file). */
export function scramEnv(user: string, mechanism: 'scram-sha-512' | 'scram-sha-256' = 'scram-sha-512'): Record<string, string> {
  return { ...TLS_ENV, CDCV_KAFKA_SASL_MECHANISM: mechanism, CDCV_KAFKA_SASL_USERNAME: user, CDCV_KAFKA_SASL_PASSWORD_FILE: passwordFile(user) };
}

/** An admin client of cdc-views' factory with the settings of an environment (not connected). */
export function securedAdmin(env: Record<string, string>): Admin {
  const config = loadConfig({ env }).config;
  return createKafkaClient({ brokers: config.kafkaBrokers.split(','), security: kafkaSecurity(config), logLevel: logLevel.NOTHING, connectionTimeout: 5000, retry: { retries: 1 } }).admin();
}

/** An admin client on the PLAINTEXT listener: User:ANONYMOUS, a super user (grants ACLs). */
export async function superAdmin(): Promise<Admin> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  return admin;
}

const RESOURCE = { Topic: AclResourceTypes.TOPIC, Group: AclResourceTypes.GROUP, Cluster: AclResourceTypes.CLUSTER, TransactionalId: AclResourceTypes.TRANSACTIONAL_ID } as const;
const OPERATION = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Delete: AclOperationTypes.DELETE,
  Alter: AclOperationTypes.ALTER,
  Describe: AclOperationTypes.DESCRIBE,
  DescribeConfigs: AclOperationTypes.DESCRIBE_CONFIGS,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
} as const;

/** Removes every ACL of a principal. */
export async function revokeAll(admin: Admin, principal: string): Promise<void> {
  await admin.deleteAcls({
    filters: [{ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal, host: '*', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }],
  });
}

/** Grants the ACLs of filled templates to a principal. */
export async function grant(admin: Admin, principal: string, acls: readonly AclTemplate[]): Promise<void> {
  await admin.createAcls({
    acl: acls.flatMap((a) =>
      a.operations.map((op) => ({
        resourceType: RESOURCE[a.resource],
        resourceName: a.resource === 'Cluster' ? 'kafka-cluster' : a.name,
        resourcePatternType: a.pattern === 'prefixed' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
        principal,
        host: '*',
        operation: OPERATION[op],
        permissionType: AclPermissionTypes.ALLOW,
      })),
    ),
  });
}

/** The ACLs the broker holds for a principal, as `Resource pattern name Operation` lines, sorted. */
export async function aclsOf(admin: Admin, principal: string): Promise<string[]> {
  const res = await admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, principal, host: '*', operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  const name = (v: number, table: object): string => (Object.entries(table) as [string, unknown][]).find(([, n]) => n === v)?.[0] ?? String(v);
  return res.resources.flatMap((r) => r.acls.map((a) => `${name(r.resourceType, AclResourceTypes)} ${name(r.resourcePatternType, ResourcePatternTypes)} ${r.resourceName} ${name(a.operation, AclOperationTypes)}`)).sort();
}
