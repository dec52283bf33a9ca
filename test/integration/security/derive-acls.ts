/**
 * How the ACL list of src/kafka/acls.ts was derived (run by hand, not a test:
 * `node --import tsx test/integration/security/derive-acls.ts`): a fresh topic
 * and topology, the user cdcv-app stripped of every ACL, then each command of
 * the topology's life run through the SASL_SSL listener; whenever one is
 * refused, the kafka-acls.sh command its one-line error names is run (Kafka's
 * own AclCommand, through the PLAINTEXT listener whose User:ANONYMOUS is a
 * super user) and the command is run again, until all pass. Prints the ACLs
 * added, in order, and the broker's final list for the user.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { brokers, newRedis, uniqueId } from '../helpers.ts';
import { cli, deleteKeys, itemsTopologyFile, newProducer, itemCreates, produceChanges } from '../ops/helpers.ts';
import { STACK_DIR, aclsOf, revokeAll, scramEnv, superAdmin } from './kafka-support.ts';

const id = uniqueId('derive').replace('_', '');
const topic = `${id}.public.items`;
const name = `items${id}`;
const topics = `^${topic.replaceAll('.', '\\.')}$`;
const PRINCIPAL = 'User:cdcv-app';

const admin = await superAdmin();
const producer = await newProducer();
const redis = newRedis();
await revokeAll(admin, PRINCIPAL);
await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
await produceChanges(producer, topic, itemCreates(50));
const file = itemsTopologyFile(name, 'v0');

const steps: string[][] = [
  ['run', '--app', `${name}-v0`, '--topics', topics, '--topology', file, '--until-caught-up', '--http-port', '0'],
  ['replay', file, '--version', 'v1', '--from', 'earliest', '--topics', topics, '--until-caught-up', '--no-progress'],
  ['status', '--app', `${name}-v1`],
  ['versions', name],
  ['rewind', '--app', `${name}-v1`, '--to-earliest', '--topology', file, '--execute', '--no-progress'],
  ['promote', name, '--version', 'v1', '--force'],
  ['replay', file, '--version', 'v2', '--from', 'earliest', '--topics', topics, '--prepare-only'],
  ['drop', name, '--version', 'v2', '--yes'],
];
const added: string[] = [];
for (const args of steps) {
  for (let attempt = 0; ; attempt++) {
    const r = await cli(args, 90_000, scramEnv('cdcv-app'));
    if (r.code === 0) {
      console.log(`ok   ${args.slice(0, 2).join(' ')}`);
      break;
    }
    // A topic is listed only to a user with Describe on it: "no topic matches" asks for that ACL.
    const grant = /grant it: kafka-acls\.sh --bootstrap-server \S+ --add (.*?) \(docs\/security\.md/.exec(r.stderr)?.[1] ?? (/no topic matches/.test(r.stderr) ? `--allow-principal '${PRINCIPAL}' --operation Describe --topic '${topic}'` : undefined);
    if (!grant || attempt > 12) throw new Error(`${args.join(' ')}: exit ${r.code} without an ACL to grant:\n${r.stderr}`);
    const argv = grant.match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, ''));
    execFileSync('java', ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-cp', `${join(STACK_DIR, 'lib')}/*`, 'kafka.admin.AclCommand', '--bootstrap-server', brokers[0]!, '--add', ...argv], { stdio: 'ignore' });
    added.push(`${args[0]}: ${grant}`);
    console.log(`acl  ${args[0]}: ${grant}`);
  }
}
console.log(`\nadded:\n${added.join('\n')}\n\nthe broker's list for ${PRINCIPAL}:\n${(await aclsOf(admin, PRINCIPAL)).join('\n')}`);

await revokeAll(admin, PRINCIPAL);
for (const v of ['v0', 'v1', 'v2']) {
  await deleteKeys(redis, `cdcv:${name}-${v}:*`);
  await deleteKeys(redis, `cache:${name}-${v}:*`);
  await admin.deleteGroups([`${name}-${v}`]).catch(() => undefined);
}
await deleteKeys(redis, `cdcv:topology:${name}:*`);
await deleteKeys(redis, `cache:${name}:*`);
await fetch(`${process.env.CDCV_OPENSEARCH_URL ?? 'http://localhost:9200'}/${name}-*`, { method: 'DELETE' }).catch(() => undefined);
const existing = await admin.listTopics();
await admin.deleteTopics({ topics: [topic, ...existing.filter((t) => t.startsWith(`cdcv.${name}-`))] }).catch(() => undefined);
await producer.disconnect();
await admin.disconnect();
redis.disconnect();
