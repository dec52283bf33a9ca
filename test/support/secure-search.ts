/**
 * The secured OpenSearch node of the security tests (scripts/stack/opensearch-secure.sh:
 * OpenSearch 2.19.4 with the security plugin, HTTPS with the demo CA, basic
 * auth), started on demand, and its security REST API: a role and an internal
 * user per test, a password changed at run time.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@opensearch-project/opensearch';
import { Secret } from '../../src/secrets.ts';
import { createSearchClient, type SearchConnection } from '../../src/sinks/search-client.ts';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..', '..');
const script = join(repoRoot, 'scripts/stack/opensearch-secure.sh');

/** The started node: where it is, the CA to trust, its admin's credentials, and how long the start took. */
export interface SecureSearch {
  url: string;
  caFile: string;
  admin: { username: string; password: string };
  /** Wall time of `opensearch-secure.sh start`, ms (install included on a first run). */
  startMs: number;
  /** Whether this call started the JVM (false: it was running). */
  started: boolean;
}

/**
 * Starts the secured node unless it runs (waits until the security plugin is
 * up and the cluster yellow) and reads where it is from scripts/stack/env.sh.
 * @throws {Error} with the script's stderr when it cannot start
 */
export async function startSecureSearch(): Promise<SecureSearch> {
  const t0 = Date.now();
  const { stdout } = await run('bash', [script, 'start'], { cwd: repoRoot, timeout: 300_000 });
  const startMs = Date.now() - t0;
  const vars = await run('bash', ['-c', 'source scripts/stack/env.sh && printf "%s\\n" "$CDCV_OPENSEARCH_SECURE_URL" "$CDCV_OPENSEARCH_SECURE_CA" "$CDCV_OPENSEARCH_SECURE_CREDENTIALS"'], { cwd: repoRoot });
  const [url, caFile, credentials] = vars.stdout.trim().split('\n') as [string, string, string];
  const admin = JSON.parse(readFileSync(credentials, 'utf8')) as { username: string; password: string };
  return { url, caFile, admin, startMs, started: stdout.includes('started') };
}

/** Stops the node (SIGTERM; what down.sh does). */
export async function stopSecureSearch(): Promise<void> {
  await run('bash', [script, 'stop'], { cwd: repoRoot, timeout: 60_000 });
}

/** A connection to the node as a user (password from a literal or a file). */
export function userConnection(node: SecureSearch, username: string, password: { value?: string; file?: string }, caFile = node.caFile): SearchConnection {
  return { url: node.url, caFile, credentials: { kind: 'basic', username, password: Secret.of('opensearchPassword', password.value, password.file)! } };
}

/** A client of the node as its admin (the security REST API, reading indexes). */
export function adminClient(node: SecureSearch): Client {
  return createSearchClient(userConnection(node, node.admin.username, { value: node.admin.password }), { requestTimeout: 10_000, maxRetries: 0 });
}

/**
 * Creates a role allowed to write and read indexes matching `indexPattern`
 * (exactly what a topology's search sink needs) and an internal user with it.
 */
export async function createWriter(admin: Client, username: string, password: string, indexPattern: string): Promise<void> {
  const role = `${username}_role`;
  await admin.transport.request({
    method: 'PUT',
    path: `/_plugins/_security/api/roles/${role}`,
    body: {
      // The least a search sink needs (bulk, index exists/create): the role docs/security.md documents.
      cluster_permissions: ['cluster_composite_ops'],
      index_permissions: [{ index_patterns: [indexPattern], allowed_actions: ['crud', 'create_index', 'indices:admin/get'] }],
    },
  });
  await admin.transport.request({ method: 'PUT', path: `/_plugins/_security/api/internalusers/${username}`, body: { password, opendistro_security_roles: [role] } });
}

/** Removes the user and role of {@link createWriter}. */
export async function deleteWriter(admin: Client, username: string): Promise<void> {
  await admin.transport.request({ method: 'DELETE', path: `/_plugins/_security/api/internalusers/${username}` }).catch(() => undefined);
  await admin.transport.request({ method: 'DELETE', path: `/_plugins/_security/api/roles/${username}_role` }).catch(() => undefined);
}

/** Changes a user's password on the node (the security REST API through opensearch-secure.sh set-password); effective at once. */
export async function setPassword(username: string, password: string): Promise<void> {
  await run('bash', [script, 'set-password', username, password], { cwd: repoRoot, timeout: 30_000 });
}

/** The HTTP status the node answers to `GET /` with these credentials (401 when refused). */
export async function statusAs(node: SecureSearch, username: string, password: string): Promise<number> {
  const client = createSearchClient(userConnection(node, username, { value: password }), { requestTimeout: 5000, maxRetries: 0 });
  try {
    return (await client.transport.request({ method: 'GET', path: '/_plugins/_security/authinfo' })).statusCode ?? 0;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode ?? -1;
  } finally {
    await client.close();
  }
}
