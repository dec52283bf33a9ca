/**
 * The Kafka ACLs cdc-views needs, the least that lets a topology (`run`) and
 * every operator command that talks to Kafka (`replay`, `status`, `versions`,
 * `rewind`, `promote`, `drop`) work: derived on the real broker by running
 * each command as a user without ACLs and adding the one each refusal named
 * (test/integration/security/kafka-acl.test.ts runs them under exactly this
 * list). Names are templates:
 * - `{sourcePrefix}`: the prefix of the CDC topics (Debezium's topic.prefix, e.g. `shop.`);
 * - `{topology}`: the topology's name; its versions run as applications `{topology}-<version>`;
 * - `{app}`: an applicationId that is not a topology version (a plain `run --app`).
 */
import type { AclOperation, AclResource } from './errors.ts';

/** One ACL entry (kafka-acls.sh --add --allow-principal … --operation … --resource-pattern-type …). */
export interface AclTemplate {
  resource: AclResource;
  /** The resource name or prefix, with the placeholders above. */
  name: string;
  pattern: 'literal' | 'prefixed';
  operations: readonly AclOperation[];
  /** Why it is needed. */
  why: string;
}

/**
 * For a topology's versions and the operator commands acting on them. Read,
 * Write and Delete imply Describe (Kafka's ACL semantics), so Describe is not
 * listed; no cluster ACL is needed: Write on a topic also allows the
 * idempotent producer (KIP-679, Kafka 3.0).
 */
export const TOPOLOGY_ACLS: readonly AclTemplate[] = [
  { resource: 'Topic', name: '{sourcePrefix}', pattern: 'prefixed', operations: ['Read', 'DescribeConfigs'], why: 'consume the CDC topics; list them, watermarks, offsets by time (Describe, implied); their retention (replay, run registering a version)' },
  { resource: 'Group', name: '{topology}-', pattern: 'prefixed', operations: ['Read', 'Delete'], why: 'the consumer group of each version: join and commit (run, replay, rewind), members and offsets (status, versions, promote: Describe, implied), delete (drop)' },
  { resource: 'Topic', name: 'cdcv.{topology}-', pattern: 'prefixed', operations: ['Create', 'Write', 'DescribeConfigs', 'Delete'], why: 'the dead-letter topic cdcv.<app>.dlq of each version: created at start, its max.message.bytes read, written (and the idempotent producer id), counted (status), deleted (drop)' },
];

/** Fills the placeholders of a template. */
export function fillAcl(t: AclTemplate, names: { sourcePrefix: string; topology?: string; app?: string }): AclTemplate {
  const name = t.name.replaceAll('{sourcePrefix}', names.sourcePrefix).replaceAll('{topology}', names.topology ?? '{topology}').replaceAll('{app}', names.app ?? '{app}');
  return { ...t, name };
}
