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

/** For a topology's versions and for the operator commands acting on them. */
export const TOPOLOGY_ACLS: readonly AclTemplate[] = [
  { resource: 'Topic', name: '{sourcePrefix}', pattern: 'prefixed', operations: ['Read', 'Describe'], why: 'consume the CDC topics; list them (a topic is listed only with Describe), watermarks, offsets by time' },
  { resource: 'Group', name: '{topology}-', pattern: 'prefixed', operations: ['Read', 'Describe', 'Delete'], why: 'the consumer group of each version: join and commit (run, replay, rewind, replay positions), members and offsets (status, versions, promote), delete (drop)' },
  { resource: 'Topic', name: 'cdcv.{topology}-', pattern: 'prefixed', operations: ['Create', 'Write', 'Describe', 'DescribeConfigs', 'Delete'], why: 'the dead-letter topic cdcv.<app>.dlq of each version: created at start, its max.message.bytes read, written, counted (status), deleted (drop)' },
];

/** Fills the placeholders of a template. */
export function fillAcl(t: AclTemplate, names: { sourcePrefix: string; topology?: string; app?: string }): AclTemplate {
  const name = t.name.replaceAll('{sourcePrefix}', names.sourcePrefix).replaceAll('{topology}', names.topology ?? '{topology}').replaceAll('{app}', names.app ?? '{app}');
  return { ...t, name };
}
