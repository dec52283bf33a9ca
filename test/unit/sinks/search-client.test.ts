/**
 * The search-engine client factory (src/sinks/search-client.ts) and the
 * search sink's handling of credentials, against a real loopback HTTP server
 * started by the test that checks the `Authorization` header as the security
 * plugin does (401 with its error body otherwise) and answers the bulk API.
 *
 * What is tested: basic auth from the settings and from the URL's user info
 * (the client never sees the URL with it; no message carries the password);
 * a password file rotated under a running sink (a 401 is an outage that needs
 * an operator, retried; the next write reads the new file, without a new
 * client); the settings' refusals (password without user, URL and settings,
 * basic auth with SigV4, an unreadable CA file).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { loopbackHttp, type LoopbackHttp } from '../../support/net.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.ts';
import { createSearchClient, searchConnection } from '../../../src/sinks/search-client.ts';
import { SearchIndexSink } from '../../../src/sinks/search.ts';
import { SinkUnavailableError } from '../../../src/sinks/sink.ts';

const USER = 'cdcv-writer';
/** The password the server accepts now. */
let accepted = 'first-Password-1';
let server: LoopbackHttp;
let url: string;
const seen: { authorization: string | undefined; path: string }[] = [];
const dir = mkdtempSync(join(tmpdir(), 'cdcv-search-client-'));

function handle(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ authorization: req.headers.authorization, path: req.url ?? '' });
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== `Basic ${Buffer.from(`${USER}:${accepted}`).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="OpenSearch Security"' });
      res.end(JSON.stringify({ error: 'Unauthorized', status: 401 }));
      return;
    }
    if (req.url?.startsWith('/_bulk')) {
      const actions = body.split('\n').filter((l) => l.startsWith('{"index"') || l.startsWith('{"delete"'));
      res.end(JSON.stringify({ errors: false, items: actions.map(() => ({ index: { status: 201 } })) }));
      return;
    }
    res.end(JSON.stringify({ cluster_name: 'fake' }));
  });
}

before(async () => {
  server = await loopbackHttp(handle);
  url = server.url;
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (over: Partial<Parameters<typeof searchConnection>[0]> = {}): Parameters<typeof searchConnection>[0] => ({
  opensearchUrl: url,
  opensearchUsername: undefined,
  opensearchPassword: undefined,
  opensearchPasswordFile: undefined,
  opensearchCaFile: undefined,
  opensearchAwsRegion: undefined,
  opensearchAwsService: 'es',
  ...over,
});

test('basic auth from the settings: the header is sent, a wrong password is refused by the server', async () => {
  accepted = 'first-Password-1';
  const ok = createSearchClient(searchConnection(settings({ opensearchUsername: USER, opensearchPassword: accepted })), { requestTimeout: 2000, maxRetries: 0 });
  assert.equal((await ok.info()).statusCode, 200);
  assert.equal(seen.at(-1)!.authorization, `Basic ${Buffer.from(`${USER}:${accepted}`).toString('base64')}`);
  const wrong = createSearchClient(searchConnection(settings({ opensearchUsername: USER, opensearchPassword: 'not-it' })), { requestTimeout: 2000, maxRetries: 0 });
  await assert.rejects(wrong.info(), (e: unknown) => (e as { statusCode?: number }).statusCode === 401);
  await ok.close();
  await wrong.close();
});

test('credentials in the URL keep working; the connection and every message carry the URL without them', async () => {
  accepted = 'url-Pass%word';
  const withUserInfo = `http://${USER}:${encodeURIComponent(accepted)}@${url.slice('http://'.length)}`;
  const conn = searchConnection(settings({ opensearchUrl: withUserInfo }));
  assert.equal(conn.url, url);
  assert.equal(JSON.stringify(conn).includes(accepted), false);
  const client = createSearchClient(conn, { requestTimeout: 2000, maxRetries: 0 });
  assert.equal((await client.info()).statusCode, 200);
  await client.close();
  // A sink whose engine refuses: the message names the engine without user info.
  accepted = 'something-else';
  const sink = new SearchIndexSink({ node: withUserInfo, index: 'x', maxAttempts: 1, maxRetryTimeMs: 1000 });
  const err = await sink.write([{ keyString: 'k', seq: 1, doc: { a: 1 } }]).then(
    () => assert.fail('written'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkUnavailableError);
  assert.match(err.message, new RegExp(`refuses the credentials \\(401\\)`));
  assert.match(err.message, new RegExp(`at ${url.replaceAll('.', '\\.')}`));
  assert.doesNotMatch(err.message, /url-Pass|%25|@/);
  await sink.close();
});

test('a password file rotated under a running sink: 401 pauses (needs an operator), the next write reads the new file', async () => {
  const file = join(dir, 'opensearch-password');
  writeFileSync(file, 'before-Rotation-1\n');
  accepted = 'before-Rotation-1';
  const sink = new SearchIndexSink({
    node: searchConnection(settings({ opensearchUsername: USER, opensearchPasswordFile: file })),
    index: 'orders',
    maxAttempts: 2,
    initialBackoffMs: 10,
    maxRetryTimeMs: 1500,
  });
  assert.deepEqual(await sink.write([{ keyString: 'a', seq: 1, doc: { n: 1 } }]), { written: 1, skipped: 0 });

  // The engine's password changes; the file still holds the old one.
  accepted = 'after-Rotation-22';
  const before401 = seen.length;
  const err = await sink.write([{ keyString: 'a', seq: 2, doc: { n: 2 } }]).then(
    () => assert.fail('written with the old password'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkUnavailableError, String(err));
  assert.equal(err.needsOperator, true);
  assert.match(err.message, /1 of 1 document\(s\) not written after 2 attempt\(s\).*refuses the credentials \(401\)/);
  assert.doesNotMatch(err.message, /Rotation/);
  assert.ok(seen.slice(before401).every((s) => s.path.startsWith('/_bulk')) && seen.length - before401 === 2, 'both attempts reached the engine and were refused');

  // The new secret lands in the file (a Kubernetes Secret update): the same sink writes.
  writeFileSync(file, 'after-Rotation-22\n');
  utimesSync(file, new Date(), new Date(Date.now() + 2000));
  assert.deepEqual(await sink.write([{ keyString: 'a', seq: 2, doc: { n: 2 } }]), { written: 1, skipped: 0 });
  assert.equal(seen.at(-1)!.authorization, `Basic ${Buffer.from(`${USER}:after-Rotation-22`).toString('base64')}`);
  await sink.close();
});

test('settings refused: password without user, user without password, URL and settings, basic auth with SigV4, an unreadable CA', () => {
  const field = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.field;
    }
    return assert.fail('not refused');
  };
  assert.equal(field(() => searchConnection(settings({ opensearchPassword: 'p' }))), 'opensearchUsername');
  assert.equal(field(() => searchConnection(settings({ opensearchUsername: 'u' }))), 'opensearchPassword');
  assert.equal(field(() => searchConnection(settings({ opensearchUrl: 'http://a:b@h:9200', opensearchUsername: 'u', opensearchPassword: 'p' }))), 'opensearchUrl');
  assert.equal(field(() => searchConnection(settings({ opensearchUsername: 'u', opensearchPassword: 'p', opensearchAwsRegion: 'eu-west-1' }))), 'opensearchAwsRegion');
  assert.equal(field(() => createSearchClient(searchConnection(settings({ opensearchCaFile: join(dir, 'missing.pem') })), { requestTimeout: 1000, maxRetries: 0 })), 'opensearchCaFile');
  const aws = searchConnection(settings({ opensearchAwsRegion: 'eu-west-1', opensearchAwsService: 'aoss' }));
  assert.deepEqual(aws.aws, { region: 'eu-west-1', service: 'aoss' });
  assert.equal(aws.credentials, undefined);
});

test('an unreadable password file is an outage that needs an operator, never a verdict on the documents', async () => {
  const sink = new SearchIndexSink({
    node: searchConnection(settings({ opensearchUsername: USER, opensearchPasswordFile: join(dir, 'not-mounted') })),
    index: 'orders',
    maxAttempts: 2,
    initialBackoffMs: 10,
    maxRetryTimeMs: 1000,
  });
  const err = await sink.write([{ keyString: 'a', seq: 1, doc: { n: 1 } }]).then(
    () => assert.fail('written without a password'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkUnavailableError, String(err));
  assert.equal(err.needsOperator, true);
  assert.match(err.message, /opensearchPasswordFile: cannot read .*not-mounted \(ENOENT\)/);
  await sink.close();
});
