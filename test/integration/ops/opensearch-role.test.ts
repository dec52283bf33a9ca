/**
 * The OpenSearch role of docs/security.md, on the secured node of the stack
 * (OpenSearch 2.19.4 with the security plugin, scripts/stack/opensearch-secure.sh):
 * the role JSON is read from the document itself, mapped to a fresh user,
 * and that user makes the calls the search sink (exists, create, bulk index
 * and delete with external versions), `promote` (exists, get alias, one
 * `_aliases` request with remove_index) and `drop` (delete index) make.
 * A user whose role lacks `indices:admin/delete` is refused the drop, and
 * an index outside `<topology>-*` is refused: the permissions are enforced.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@opensearch-project/opensearch';

const STACK = process.env.CDCV_STACK_DIR ?? resolve(import.meta.dirname, '../../../.stack');
// Started on demand (idempotent: a running node is left as it is); up.sh does not start it.
execFileSync('bash', [resolve(import.meta.dirname, '../../../scripts/stack/opensearch-secure.sh'), 'start'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
const URL_ = process.env.CDCV_OPENSEARCH_SECURE_URL ?? `https://127.0.0.1:${process.env.CDCV_OPENSEARCH_SECURE_PORT ?? '9201'}`;
const CA = readFileSync(process.env.CDCV_OPENSEARCH_SECURE_CA ?? join(STACK, 'opensearch-secure/root-ca.pem'), 'utf8');
const ADMIN = JSON.parse(readFileSync(process.env.CDCV_OPENSEARCH_SECURE_CREDENTIALS ?? join(STACK, 'opensearch-secure/admin.json'), 'utf8')) as { username: string; password: string };

const topology = `role${randomUUID().slice(0, 8)}`;
const PASSWORD = `Role-Test-${randomUUID()}`;
const client = (username: string, password: string): Client => new Client({ node: URL_, auth: { username, password }, ssl: { ca: CA }, maxRetries: 0, requestTimeout: 30_000 });
const admin = client(ADMIN.username, ADMIN.password);
const names = { role: `cdcv-${topology}`, narrow: `cdcv-${topology}-nodelete`, user: `cdcv-${topology}`, narrowUser: `cdcv-${topology}-nodelete` };

/** The role JSON of docs/security.md, for this topology. */
function documentedRole(): { cluster_permissions: string[]; index_permissions: { index_patterns: string[]; allowed_actions: string[] }[] } {
  const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/security.md'), 'utf8');
  const block = /A role for one topology[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/security.md has the role JSON');
  return JSON.parse(block.replaceAll('<topology>', topology)) as ReturnType<typeof documentedRole>;
}

async function security(method: 'PUT' | 'DELETE', path: string, body?: unknown): Promise<void> {
  await admin.transport.request({ method, path: `/_plugins/_security/api/${path}`, ...(body === undefined ? {} : { body: body as Record<string, unknown> }) });
}

/** The status of a failed request (403 refused), or 'ok'. */
async function outcome(fn: () => Promise<unknown>): Promise<number | 'ok'> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return (err as { meta?: { statusCode?: number } }).meta?.statusCode ?? -1;
  }
}

before(async () => {
  const role = documentedRole();
  const narrow = { ...role, index_permissions: role.index_permissions.map((p) => ({ ...p, allowed_actions: p.allowed_actions.filter((a) => a !== 'indices:admin/delete') })) };
  await security('PUT', `roles/${names.role}`, role);
  await security('PUT', `roles/${names.narrow}`, narrow);
  for (const [user, roleName] of [[names.user, names.role], [names.narrowUser, names.narrow]] as const) {
    await security('PUT', `internalusers/${user}`, { password: PASSWORD });
    await security('PUT', `rolesmapping/${roleName}`, { users: [user] });
  }
});

after(async () => {
  await admin.indices.delete({ index: `${topology}-*` }).catch(() => undefined);
  for (const r of [names.role, names.narrow]) {
    await security('DELETE', `rolesmapping/${r}`).catch(() => undefined);
    await security('DELETE', `roles/${r}`).catch(() => undefined);
  }
  for (const u of [names.user, names.narrowUser]) await security('DELETE', `internalusers/${u}`).catch(() => undefined);
  await admin.close();
});

test('a user with exactly the documented role can do what the search sink, promote and drop do', async () => {
  const user = client(names.user, PASSWORD);
  try {
    const v1 = `${topology}-v1-item`;
    const v2 = `${topology}-v2-item`;
    const alias = `${topology}-item`;
    // The search sink of each version: exists, create, bulk (index and delete, external versions).
    for (const index of [v1, v2]) {
      assert.equal((await user.indices.exists({ index })).body, false);
      await user.indices.create({ index, body: { mappings: { properties: { id: { type: 'long' } } } } });
      const bulk = await user.bulk({
        body: [
          { index: { _index: index, _id: '{"id":1}', version: 1, version_type: 'external' } },
          { id: 1 },
          { index: { _index: index, _id: '{"id":2}', version: 2, version_type: 'external' } },
          { id: 2 },
          { delete: { _index: index, _id: '{"id":2}', version: 3, version_type: 'external' } },
        ],
      });
      assert.equal(bulk.body.errors, false, JSON.stringify(bulk.body.items));
    }
    // promote: exists, the alias' holders (404: none yet), an index squatting the alias name, one _aliases request.
    assert.equal(await outcome(() => user.indices.getAlias({ name: alias })), 404);
    assert.equal((await user.indices.exists({ index: alias })).body, false);
    await user.indices.updateAliases({ body: { actions: [{ add: { index: v1, alias } }] } });
    assert.deepEqual(Object.keys((await user.indices.getAlias({ name: alias })).body), [v1]);
    await user.indices.updateAliases({ body: { actions: [{ remove: { index: v1, alias } }, { add: { index: v2, alias } }] } });
    assert.deepEqual(Object.keys((await user.indices.getAlias({ name: alias })).body), [v2]);
    // promote --replace-index: an index named like the alias deleted in the same request.
    const squatted = `${topology}-legacy`;
    await user.indices.create({ index: squatted });
    await user.indices.updateAliases({ body: { actions: [{ remove_index: { index: squatted } }, { add: { index: v2, alias: squatted } }] } });
    assert.deepEqual(Object.keys((await user.indices.getAlias({ name: squatted })).body), [v2]);
    // drop: the old version's index.
    await user.indices.delete({ index: v1 });
    assert.equal((await admin.indices.exists({ index: v1 })).body, false);
  } finally {
    await user.close();
  }
});

test('the permissions are enforced: another topology\'s index is refused, and without indices:admin/delete drop is refused', async () => {
  const user = client(names.user, PASSWORD);
  const narrow = client(names.narrowUser, PASSWORD);
  try {
    assert.equal(await outcome(() => user.indices.create({ index: `other${topology}-v1-item` })), 403);
    const index = `${topology}-v3-item`;
    await narrow.indices.create({ index });
    assert.equal(await outcome(() => narrow.indices.delete({ index })), 403);
    assert.equal((await admin.indices.exists({ index })).body, true);
  } finally {
    await user.close();
    await narrow.close();
  }
});
