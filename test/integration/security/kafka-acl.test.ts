/**
 * Kafka ACLs on the real broker (issue #15): through the SASL_SSL listener
 * (SCRAM-SHA-512, mutual TLS, StandardAuthorizer with
 * allow.everyone.if.no.acl.found=false), a topology (`run --until-caught-up`)
 * and every operator command that talks to Kafka (replay, status, versions,
 * rewind, promote, drop) work as a user holding exactly the documented ACLs
 * (src/kafka/acls.ts TOPOLOGY_ACLS); a user without them gets one line naming
 * the missing ACL (resource type, name, operation) and the kafka-acls.sh
 * command that grants it.
 *
 * Verified without the code under test: the ACLs the broker holds
 * (DescribeAcls through the PLAINTEXT listener), and that drop really deleted
 * the version's consumer group and DLQ topic (its group deletion ignores errors).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Producer } from 'kafkajs';
import { TOPOLOGY_ACLS, fillAcl } from '../../../src/kafka/acls.ts';
import { newRedis, uniqueId } from '../helpers.ts';
import { cli, dropItemsTopology, itemsTopologyFile, newProducer, itemCreates, produceChanges } from '../ops/helpers.ts';
import { aclsOf, grant, revokeAll, scramEnv, superAdmin } from './kafka-support.ts';

const redis = newRedis();
const id = uniqueId('acl').replace('_', '');
const topic = `${id}.public.items`;
const name = `items${id}`;
const topics = `^${topic.replaceAll('.', '\\.')}$`;
const APP = 'User:cdcv-app';
const NOACL = 'User:cdcv-noacl';
/** The documented ACLs for this test's names. */
const acls = TOPOLOGY_ACLS.map((t) => fillAcl(t, { sourcePrefix: `${id}.`, topology: name }));
let admin: Admin;
let producer: Producer;

before(async () => {
  admin = await superAdmin();
  producer = await newProducer();
  await revokeAll(admin, APP);
  await revokeAll(admin, NOACL);
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await produceChanges(producer, topic, itemCreates(200));
});

after(async () => {
  await producer?.disconnect();
  await revokeAll(admin, APP).catch(() => undefined);
  await revokeAll(admin, NOACL).catch(() => undefined);
  await dropItemsTopology(redis, admin, name, ['v0', 'v1', 'v2', 'x'], topic);
  await admin?.disconnect();
  redis.disconnect();
});

/** Runs a command as a SCRAM user through the SASL_SSL listener; asserts its exit code. */
async function as(user: string, args: string[], expectCode = 0): Promise<{ stdout: string; stderr: string }> {
  const r = await cli(args, 180_000, scramEnv(user));
  assert.equal(r.code, expectCode, `cdc-views ${args.join(' ')} as ${user}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
  return r;
}

test('a topology and every operator command run through SASL_SSL as a user with exactly the documented ACLs', async (t) => {
  await grant(admin, APP, acls);
  const expected = acls.flatMap((a) => a.operations.map((op) => `${a.resource.toUpperCase()} ${a.pattern.toUpperCase()} ${a.name} ${op.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`)).sort();
  assert.deepEqual(await aclsOf(admin, APP), expected, 'the broker holds exactly the documented ACLs for the user');

  const file = itemsTopologyFile(name, 'v0');
  const started = Date.now();
  await as('cdcv-app', ['run', '--app', `${name}-v0`, '--topics', topics, '--topology', file, '--until-caught-up', '--http-port', '0']);
  await as('cdcv-app', ['replay', file, '--version', 'v1', '--from', 'earliest', '--topics', topics, '--until-caught-up', '--no-progress']);
  const status = JSON.parse((await as('cdcv-app', ['status', '--app', `${name}-v1`, '--json'])).stdout) as { totalLag: string };
  assert.equal(status.totalLag, '0');
  const versions = JSON.parse((await as('cdcv-app', ['versions', name, '--json'])).stdout) as { version: string; caughtUp: boolean }[];
  assert.deepEqual(versions.map((v) => [v.version, v.caughtUp]).sort(), [['v0', true], ['v1', true]]);
  await as('cdcv-app', ['rewind', '--app', `${name}-v1`, '--to-earliest', '--topology', file, '--execute', '--no-progress']);
  await as('cdcv-app', ['promote', name, '--version', 'v1', '--force']);
  await as('cdcv-app', ['replay', file, '--version', 'v2', '--from', 'earliest', '--topics', topics, '--prepare-only']);
  await as('cdcv-app', ['drop', name, '--version', 'v2', '--yes']);

  const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
  assert.ok(groups.includes(`${name}-v1`) && !groups.includes(`${name}-v2`), `drop deleted v2's group, v1's stays: ${groups.filter((g) => g.startsWith(name)).join(', ')}`);
  const all = await admin.listTopics();
  assert.ok(all.includes(`cdcv.${name}-v1.dlq`) && !all.includes(`cdcv.${name}-v2.dlq`), 'drop deleted the DLQ topic of v2');
  t.diagnostic(`run, replay, status, versions, rewind, promote, replay --prepare-only, drop as ${APP} in ${Date.now() - started} ms; ACLs: ${expected.join('; ')}`);
});

test('a user without the ACLs gets one line naming the missing ACL and the command that grants it', async () => {
  assert.deepEqual(await aclsOf(admin, NOACL), [], 'the user holds no ACL');
  const status = await as('cdcv-noacl', ['status', '--app', `${name}-v1`], 3);
  assert.equal(status.stderr.trim().split('\n').length, 1, status.stderr);
  assert.match(
    status.stderr,
    new RegExp(`^cdc-views: Kafka refused admin\\.describeGroups \\(GROUP_AUTHORIZATION_FAILED[^)]*\\): User:cdcv-noacl lacks the ACL Group '${name}-v1' Describe; grant it: kafka-acls\\.sh --bootstrap-server localhost:\\d+ --add --allow-principal 'User:cdcv-noacl' --operation Describe --group '${name}-v1'`),
  );

  // With the source topics visible (Describe) but nothing else, the topology stops at its first refused request.
  await grant(admin, NOACL, [{ resource: 'Topic', name: `${id}.`, pattern: 'prefixed', operations: ['Describe'], why: 'test' }]);
  const run = await as('cdcv-noacl', ['run', '--app', `${name}-x`, '--topics', topics, '--until-caught-up', '--http-port', '0'], 3);
  // Its first refused request: the idempotent producer's id (it has Write on no topic).
  assert.match(run.stderr, /^cdc-views: Kafka refused producer\.connect \(CLUSTER_AUTHORIZATION_FAILED\): User:cdcv-noacl lacks the ACL Cluster IdempotentWrite \(or Write on any topic, e\.g\. the DLQ topic\); grant it: kafka-acls\.sh .* --operation IdempotentWrite --cluster/m);
  assert.ok(!(await admin.listTopics()).includes(`cdcv.${name}-x.dlq`), 'the broker created no DLQ topic for the refused user');
});
