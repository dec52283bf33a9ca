/**
 * The TLS Redis of the Redis security tests (scripts/stack/redis-tls.sh,
 * started on demand): its files, an admin client, the environment that points
 * cdc-views at it as an ACL user, and the server's ACL LOG (how a test proves
 * the server itself refused, or allowed everything).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';

export const TLS_PORT = Number(process.env.CDCV_STACK_REDIS_TLS_PORT ?? 6390);
export const TLS_DIR = join(resolve(process.env.CDCV_STACK_DIR ?? '.stack'), 'redis-tls');
export const tlsFile = (name: string): string => join(TLS_DIR, name);

/** Starts the TLS Redis unless it runs (idempotent); fails the test with the script's line. */
export function startRedisTls(): void {
  const r = spawnSync('bash', ['scripts/stack/redis-tls.sh', 'start'], { encoding: 'utf8', timeout: 150_000 });
  assert.equal(r.status, 0, `scripts/stack/redis-tls.sh start: ${r.stdout}${r.stderr}`);
}

/** The TLS options of a client of the TLS Redis (CA and the client certificate it requires). */
export const tlsOptions = (): { ca: Buffer; cert: Buffer; key: Buffer } => ({ ca: readFileSync(tlsFile('ca.crt')), cert: readFileSync(tlsFile('client.crt')), key: readFileSync(tlsFile('client.key')) });

/** A client as the admin (`default` user, every command). */
export function adminClient(): Redis {
  return new Redis({ host: '127.0.0.1', port: TLS_PORT, tls: tlsOptions(), password: readFileSync(tlsFile('admin.password'), 'utf8').trim(), maxRetriesPerRequest: 1 });
}

/**
 * The environment of a cdc-views command that uses the TLS Redis as `user`
 * with the password in `passwordFile` (settings only, no credential in the URL).
 */
export function tlsEnv(user: string, passwordFile: string, host = 'localhost'): Record<string, string> {
  return {
    CDCV_REDIS_URL: `rediss://${host}:${TLS_PORT}`,
    CDCV_REDIS_USERNAME: user,
    CDCV_REDIS_PASSWORD_FILE: passwordFile,
    CDCV_REDIS_TLS_CA_FILE: tlsFile('ca.crt'),
    CDCV_REDIS_TLS_CERT_FILE: tlsFile('client.crt'),
    CDCV_REDIS_TLS_KEY_FILE: tlsFile('client.key'),
  };
}

/** One ACL LOG entry (Redis 7): why the server refused something. */
export interface AclLogEntry {
  reason: string;
  context: string;
  object: string;
  username: string;
  count: number;
}

/** The server's ACL LOG entries of a user, newest first. */
export async function aclLog(admin: Redis, user: string): Promise<AclLogEntry[]> {
  const raw = (await admin.call('ACL', 'LOG', '1024')) as (string | number)[][];
  return raw
    .map((e) => {
      const o: Record<string, string | number> = {};
      for (let i = 0; i + 1 < e.length; i += 2) o[String(e[i])] = e[i + 1]!;
      return { reason: String(o.reason), context: String(o.context), object: String(o.object), username: String(o.username), count: Number(o.count) };
    })
    .filter((e) => e.username === user);
}

/**
 * Creates (or resets) an ACL user with the rules of the stack's `cdcv` user
 * (scripts/stack/redis-tls.sh: the minimal ACL of cdc-views) and a password.
 */
export async function copyCdcvUser(admin: Redis, user: string, password: string): Promise<void> {
  const line = ((await admin.call('ACL', 'LIST')) as string[]).find((l) => l.startsWith('user cdcv '));
  assert.ok(line, 'the TLS Redis has the user cdcv');
  const rules = line.split(' ').slice(2).filter((r) => !r.startsWith('#') && !r.startsWith('>'));
  await admin.call('ACL', 'SETUSER', user, 'reset', ...rules, `>${password}`);
}
