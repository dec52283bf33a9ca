/**
 * Kafka's refusals as one line that names the fix: an authorization failure
 * (TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED) names the
 * ACL that is missing (resource type, name, operation) and the kafka-acls.sh
 * command that grants it; a failed SASL login names the settings to check,
 * never their values; a TLS failure names the certificate problem and the
 * setting that fixes it.
 */
import { CdcViewsError } from '../errors.ts';
import { redact } from '../secrets.ts';
import type { KafkaSecurity } from './security.ts';

/** A Kafka ACL resource type, as kafka-acls.sh names it. */
export type AclResource = 'Topic' | 'Group' | 'Cluster' | 'TransactionalId';
/** A Kafka ACL operation, as kafka-acls.sh's --operation names it. */
export type AclOperation = 'Read' | 'Write' | 'Create' | 'Delete' | 'Alter' | 'Describe' | 'DescribeConfigs' | 'IdempotentWrite';

/** One permission a Kafka request needs. */
export interface KafkaAccess {
  resource: AclResource;
  /** The resource name (`kafka-cluster` for the cluster); with `prefixed`, a name prefix. */
  name: string;
  operation: AclOperation;
  /** The resource pattern type. @defaultValue literal */
  pattern?: 'literal' | 'prefixed';
}

/** The Kafka error type of each resource type's authorization failure. */
const AUTHZ_TYPES: Record<string, AclResource> = {
  TOPIC_AUTHORIZATION_FAILED: 'Topic',
  GROUP_AUTHORIZATION_FAILED: 'Group',
  CLUSTER_AUTHORIZATION_FAILED: 'Cluster',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'TransactionalId',
};

/** Errors nested in a KafkaJS error: `cause`, `originalError`, aggregated `errors`, per-group or per-topic results. */
function* nested(err: unknown, depth = 0): Generator<Error> {
  if (!(err instanceof Error) || depth > 6) return;
  yield err;
  const e = err as Error & { originalError?: unknown; errors?: unknown; groups?: unknown; topicErrors?: unknown };
  yield* nested(e.cause, depth + 1);
  yield* nested(e.originalError, depth + 1);
  for (const list of [e.errors, e.groups, e.topicErrors]) {
    if (!Array.isArray(list)) continue;
    for (const item of list as unknown[]) yield* nested(item instanceof Error ? item : (item as { error?: unknown } | null)?.error, depth + 1);
  }
}

/** The Kafka error type (e.g. `GROUP_AUTHORIZATION_FAILED`) of an authorization failure in the error's chain, if any. */
export function authorizationFailure(err: unknown): { type: string; resource: AclResource } | undefined {
  for (const e of nested(err)) {
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && type in AUTHZ_TYPES) return { type, resource: AUTHZ_TYPES[type]! };
  }
  return undefined;
}

/** A SASL login refused (wrong password, unknown user, invalid token) in the error's chain. */
function saslFailure(err: unknown): Error | undefined {
  for (const e of nested(err)) {
    if (e.name === 'KafkaJSSASLAuthenticationError' || (e as { type?: unknown }).type === 'SASL_AUTHENTICATION_FAILED' || (e as { type?: unknown }).type === 'ILLEGAL_SASL_STATE') return e;
  }
  return undefined;
}

const TLS_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID']);
const TLS_CHAIN = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED']);

/** The operation names of kafka-acls.sh's `--operation`, from an {@link AclOperation}. */
function aclFlag(a: KafkaAccess): string {
  const target = a.resource === 'Cluster' ? '--cluster' : a.resource === 'Topic' ? `--topic '${a.name}'` : a.resource === 'Group' ? `--group '${a.name}'` : `--transactional-id '${a.name}'`;
  return `--operation ${a.operation} ${target}${a.pattern === 'prefixed' ? ' --resource-pattern-type prefixed' : ''}`;
}

/** `Topic 'x' Describe` / `Group prefix 'cdcv-ops-peek-' Read`. */
export function describeAccess(a: KafkaAccess): string {
  // KIP-679 (Kafka 3.0): Write on any topic also allows an idempotent producer.
  if (a.resource === 'Cluster' && a.operation === 'IdempotentWrite') return 'Cluster IdempotentWrite (or Write on any topic, e.g. the DLQ topic)';
  return a.resource === 'Cluster' ? `Cluster ${a.operation}` : `${a.resource} ${a.pattern === 'prefixed' ? 'prefix ' : ''}'${a.name}' ${a.operation}`;
}

/** What a failed request was doing, for {@link explainKafkaError}. */
export interface KafkaCallContext {
  /** The client call, e.g. `admin.fetchTopicOffsets`. */
  call: string;
  /** The permissions the call needs; the failure's resource type picks among them. */
  needs: readonly KafkaAccess[];
  brokers: readonly string[];
  security: KafkaSecurity;
}

/**
 * A KafkaJS error as a {@link CdcViewsError} whose message names the fix, or
 * undefined when it is none of the refusals above (the caller keeps it).
 * - authorization: `KAFKA_ACL_AUTH_FAILED` (exit 3), naming the missing ACL and the kafka-acls.sh command;
 * - SASL login: `KAFKA_SASL_AUTH_FAILED` (exit 3), naming the mechanism, user and settings (never a secret);
 * - TLS: `KAFKA_TLS_UNAVAILABLE` (exit 3), naming the certificate problem and the setting.
 */
export function explainKafkaError(err: unknown, ctx: KafkaCallContext): CdcViewsError | undefined {
  if (err instanceof CdcViewsError) return undefined;
  const s = ctx.security;
  const clean = (text: string): string => redact(text, s.secrets);
  let authz = authorizationFailure(err);
  // Kafka answers FindCoordinator with GROUP_AUTHORIZATION_FAILED to a user without Describe on the
  // group; KafkaJS drops that answer and reports "Failed to find group coordinator" (brokerPool.withBroker).
  const lostGroupDenial = !authz && s.principal !== undefined && ctx.needs.some((a) => a.resource === 'Group') && [...nested(err)].some((e) => e.name === 'KafkaJSGroupCoordinatorNotFound');
  if (lostGroupDenial) authz = { type: 'GROUP_AUTHORIZATION_FAILED to FindCoordinator, which KafkaJS reports as "Failed to find group coordinator"', resource: 'Group' };
  // KafkaJS's setOffsets never ends when its group join is refused (src/kafka/client.ts bounds it).
  if (!authz && s.principal !== undefined && (err as { lostGroupJoin?: unknown }).lostGroupJoin === true) authz = { type: `${err instanceof Error ? err.message : 'no answer'}: a refused group join, most likely`, resource: 'Group' };
  if (authz) {
    const needs = ctx.needs.filter((a) => a.resource === authz.resource);
    const list = needs.length > 0 ? needs : [{ resource: authz.resource, name: authz.resource === 'Cluster' ? 'kafka-cluster' : '?', operation: 'Describe' as const }];
    const principal = s.principal ?? 'User:ANONYMOUS';
    const grant = s.mechanism === 'aws'
      ? 'allow the matching kafka-cluster:* action on that resource in the IAM policy of the role (MSK IAM does not use ACLs)'
      : list.map((a) => `kafka-acls.sh --bootstrap-server ${ctx.brokers.join(',')} --add --allow-principal '${principal}' ${aclFlag(a)}`).join('; ');
    return new CdcViewsError(
      'KAFKA_ACL_AUTH_FAILED',
      `Kafka refused ${ctx.call} (${authz.type}): ${principal} lacks the ACL ${list.map(describeAccess).join(needs.length > 1 ? ' or ' : '')}; grant it: ${grant} (docs/security.md lists every ACL cdc-views needs)`,
      { cause: err },
    );
  }
  const sasl = saslFailure(err);
  if (sasl) {
    const m = s.mechanism ?? 'none';
    const what =
      m === 'oauthbearer'
        ? 'the OAuth token (kafkaSaslOauthTokenCommand, or kafkaSaslOauthTokenEndpoint with kafkaSaslOauthClientId/kafkaSaslOauthClientSecret)'
        : m === 'aws'
          ? 'the AWS credentials of the default chain and kafkaSaslAwsRegion'
          : `kafkaSaslUsername and kafkaSaslPassword (CDCV_KAFKA_SASL_PASSWORD, or the file CDCV_KAFKA_SASL_PASSWORD_FILE names)`;
    const user = s.principal?.startsWith('User:') ? ` as ${s.principal}` : '';
    return new CdcViewsError('KAFKA_SASL_AUTH_FAILED', clean(`Kafka at ${ctx.brokers.join(',')} refused the SASL ${m.toUpperCase()} login${user} (${sasl.message.split('\n')[0]}); check ${what}, and kafkaSaslMechanism`), { cause: err });
  }
  for (const e of nested(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (TLS_NAME.has(code)) {
      return new CdcViewsError('KAFKA_TLS_UNAVAILABLE', clean(`Kafka at ${ctx.brokers.join(',')}: the broker's TLS certificate does not name the host connected to (${e.message.replace(/^Connection error: /, '')}); connect through a name the certificate lists, or set CDCV_KAFKA_SSL_VERIFY_HOSTNAME=false (the chain is still verified)`), { cause: err });
    }
    if (TLS_CHAIN.has(code)) {
      return new CdcViewsError('KAFKA_TLS_UNAVAILABLE', clean(`Kafka at ${ctx.brokers.join(',')}: the broker's TLS certificate is not trusted (${code}: ${e.message.replace(/^Connection error: /, '')}); set CDCV_KAFKA_SSL_CA_FILE to the PEM bundle of the CA that signed it`), { cause: err });
    }
  }
  return undefined;
}
