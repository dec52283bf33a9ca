/**
 * The lake's object stores against the real thing: s3proxy of the local stack
 * (scripts/stack/s3proxy.sh; its filesystem backend makes conditional PUTs
 * atomic) and a temporary folder. Each test works under its own prefix or
 * folder and removes what it wrote. The endpoint comes from the stack's
 * variables (scripts/stack/env.sh): CDCV_S3_ENDPOINT or
 * http://127.0.0.1:$CDCV_S3_PORT, CDCV_S3_ACCESS_KEY, CDCV_S3_SECRET_KEY, CDCV_S3_BUCKET.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../../src/errors.ts';
import { ObjectExistsError, ObjectStoreError, type ObjectStore } from '../../../src/lake/object-store.ts';
import { FileObjectStore } from '../../../src/lake/object-store-file.ts';
import { S3ObjectStore, type S3StoreOptions } from '../../../src/lake/object-store-s3.ts';
import { openObjectStore } from '../../../src/lake/open-store.ts';

const S3_ENDPOINT = process.env.CDCV_S3_ENDPOINT ?? `http://127.0.0.1:${process.env.CDCV_S3_PORT ?? '9000'}`;
const S3_ACCESS_KEY = process.env.CDCV_S3_ACCESS_KEY ?? 'cdcv';
const S3_SECRET_KEY = process.env.CDCV_S3_SECRET_KEY ?? 'cdcv-secret';
const S3_BUCKET = process.env.CDCV_S3_BUCKET ?? 'cdcv-lake';
const s3Options = (over: Partial<S3StoreOptions> = {}): S3StoreOptions => ({
  endpoint: S3_ENDPOINT,
  credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
  ...over,
});

/** A store under a fresh prefix (S3) or folder (file) and the function that empties and closes it. */
type Fixture = { store: ObjectStore; cleanup: () => Promise<void> };
const uid = (): string => randomUUID().slice(0, 8);

const backends: { name: string; open: () => Promise<Fixture> }[] = [
  {
    name: 's3 (s3proxy)',
    open: () => {
      const store = new S3ObjectStore(`s3://${S3_BUCKET}/test-object-store/${uid()}`, s3Options());
      return Promise.resolve({
        store,
        cleanup: async () => {
          await store.delete((await store.list('')).map((o) => o.key));
          store.close();
        },
      });
    },
  },
  {
    name: 'file (temp folder)',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cdcv-object-store-'));
      return { store: new FileObjectStore(pathToFileURL(dir).href), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  },
];

/** Runs `fn` with a fresh store and always cleans up. */
async function withStore(open: () => Promise<Fixture>, fn: (store: ObjectStore) => Promise<void>): Promise<void> {
  const { store, cleanup } = await open();
  try {
    await fn(store);
  } finally {
    await cleanup();
  }
}

/** Runs `fn` over `items`, at most `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

for (const { name, open } of backends) {
  describe(`object store: ${name}`, () => {
    test('put, get, list by prefix, delete; a missing key reads as undefined', () =>
      withStore(open, async (store) => {
        await store.put('t/a/2.json', '{"b":2}');
        await store.put('t/a/1.json', Buffer.from('{"a":1}'));
        await store.put('t/b/x.bin', Buffer.from([0, 1, 2, 255]));
        await store.put('t/ab.txt', 'ab');
        assert.equal((await store.get('t/a/1.json'))?.toString(), '{"a":1}');
        assert.deepEqual(await store.get('t/b/x.bin'), Buffer.from([0, 1, 2, 255]));
        assert.equal(await store.get('t/a/missing.json'), undefined);
        assert.equal(await store.get('nowhere/at/all'), undefined);

        const before = Date.now() - 60_000;
        const all = await store.list('t/');
        assert.deepEqual(all.map((o) => o.key), ['t/a/1.json', 't/a/2.json', 't/ab.txt', 't/b/x.bin']);
        assert.deepEqual(all.map((o) => o.size), [7, 7, 2, 4]);
        for (const o of all) assert.ok(o.lastModified > before && o.lastModified < Date.now() + 60_000, `lastModified ${o.lastModified}`);
        assert.deepEqual((await store.list('t/a/')).map((o) => o.key), ['t/a/1.json', 't/a/2.json']);
        assert.deepEqual((await store.list('t/a')).map((o) => o.key), ['t/a/1.json', 't/a/2.json', 't/ab.txt']);
        assert.deepEqual(await store.list('t/none/'), []);

        await store.put('t/a/1.json', 'replaced');
        assert.equal((await store.get('t/a/1.json'))?.toString(), 'replaced');

        await store.delete(['t/a/1.json', 't/b/x.bin', 't/never-there']);
        assert.equal(await store.get('t/a/1.json'), undefined);
        assert.deepEqual((await store.list('t/')).map((o) => o.key), ['t/a/2.json', 't/ab.txt']);
        await store.delete([]);
      }));

    test('list and delete go past one page: 1100 keys', () =>
      withStore(open, async (store) => {
        const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
        await pool(keys, 32, (k) => store.put(k, k));
        await store.put('other/x', 'x');
        const listed = await store.list('many/');
        assert.equal(listed.length, 1100);
        assert.deepEqual(listed.map((o) => o.key), keys);
        await store.delete(keys);
        assert.deepEqual((await store.list('')).map((o) => o.key), ['other/x']);
      }));

    test('put-if-absent: the second put of a key throws ObjectExistsError and keeps the first body', () =>
      withStore(open, async (store) => {
        await store.put('_delta_log/00000000000000000000.json', 'first', { ifAbsent: true });
        await assert.rejects(store.put('_delta_log/00000000000000000000.json', 'second', { ifAbsent: true }), (err: unknown) => {
          assert.ok(err instanceof ObjectExistsError, String(err));
          assert.equal(err.code, 'OBJECT_STORE_EXISTS');
          assert.equal(err.key, '_delta_log/00000000000000000000.json');
          assert.equal(err.retriable, false);
          assert.match(err.message, new RegExp(`^${store.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/_delta_log/`));
          return true;
        });
        assert.equal((await store.get('_delta_log/00000000000000000000.json'))?.toString(), 'first');
        // Without ifAbsent a put overwrites.
        await store.put('_delta_log/00000000000000000000.json', 'third');
        assert.equal((await store.get('_delta_log/00000000000000000000.json'))?.toString(), 'third');
      }));

    test('put-if-absent race: 20 writers of one key, exactly one wins and its body is stored', () =>
      withStore(open, async (store) => {
        const key = '_delta_log/00000000000000000001.json';
        const bodies = Array.from({ length: 20 }, (_, i) => `{"writer":${i},"pad":"${'x'.repeat(2000 + i)}"}`);
        const results = await Promise.allSettled(bodies.map((b) => store.put(key, b, { ifAbsent: true })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        assert.equal(winners.length, 1, `winners: ${winners.join(',')}; errors: ${losers.map(String).join(' | ')}`);
        assert.equal(losers.length, 19);
        for (const err of losers) assert.ok(err instanceof ObjectExistsError, String(err));
        assert.equal((await store.get(key))?.toString(), bodies[winners[0] as number]);
      }));
  });
}

describe('object store: s3 failures', () => {
  const closers: (() => void)[] = [];
  after(() => closers.forEach((c) => c()));
  const store = (url: string, options: S3StoreOptions): S3ObjectStore => {
    const s = new S3ObjectStore(url, options);
    closers.push(() => s.close());
    return s;
  };

  test('a wrong secret: ObjectStoreError naming the fix, without the secret', async () => {
    const wrong = `wrong-secret-${randomUUID()}`;
    const s = store(`s3://${S3_BUCKET}/test-object-store/${uid()}`, s3Options({ credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: wrong } }));
    for (const call of [() => s.get('k'), () => s.put('k', 'v', { ifAbsent: true }), () => s.list(''), () => s.delete(['k'])]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof ObjectStoreError && !(err instanceof ObjectExistsError), String(err));
        assert.equal(err.code, 'OBJECT_STORE_UNAVAILABLE');
        assert.equal(err.retriable, false);
        assert.match(err.message, /check the access key \/ secret/);
        assert.match(err.message, new RegExp(`s3://${S3_BUCKET}/test-object-store/`));
        assert.ok(!err.message.includes(wrong) && !err.message.includes(S3_SECRET_KEY), err.message);
        return true;
      });
    }
  });

  test('a missing bucket: ObjectStoreError saying to create it', async () => {
    const s = store(`s3://no-such-bucket-${uid()}/p`, s3Options());
    await assert.rejects(s.list(''), (err: unknown) => {
      assert.ok(err instanceof ObjectStoreError, String(err));
      assert.equal(err.retriable, false);
      assert.match(err.message, /create the bucket/);
      return true;
    });
  });

  test('a closed port: retriable ObjectStoreError within the timeout', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const s = store(`s3://${S3_BUCKET}/p`, s3Options({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 3000 }));
    const t0 = Date.now();
    await assert.rejects(s.put('k', 'v', { ifAbsent: true }), (err: unknown) => {
      assert.ok(err instanceof ObjectStoreError && !(err instanceof ObjectExistsError), String(err));
      assert.equal(err.code, 'OBJECT_STORE_UNAVAILABLE');
      assert.equal(err.retriable, true);
      assert.match(err.message, new RegExp(`s3://${S3_BUCKET}/p/k`));
      return true;
    });
    assert.ok(Date.now() - t0 < 3000 + 1000, `took ${Date.now() - t0} ms`);
  });

  test('a server that accepts and never answers: retriable ObjectStoreError at requestTimeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const s = store(`s3://${S3_BUCKET}/p`, s3Options({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 1500 }));
      for (const call of [() => s.get('k'), () => s.list('')]) {
        const t0 = Date.now();
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof ObjectStoreError, String(err));
          assert.equal(err.retriable, true);
          assert.match(err.message, /no answer within 1500 ms/);
          return true;
        });
        const took = Date.now() - t0;
        assert.ok(took >= 1400 && took < 1500 + 1000, `took ${took} ms`);
      }
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => silent.close(r));
    }
  });
});

describe('openObjectStore', () => {
  test('the scheme picks the backend; the URL carries no credentials', async () => {
    const s3 = openObjectStore(`s3://${S3_BUCKET}/lake/orders/`, s3Options());
    assert.ok(s3 instanceof S3ObjectStore);
    assert.equal(s3.url, `s3://${S3_BUCKET}/lake/orders`);
    assert.ok(!s3.url.includes(S3_SECRET_KEY));
    s3.close();
    const bare = new S3ObjectStore(`s3://${S3_BUCKET}`, s3Options());
    assert.equal(bare.url, `s3://${S3_BUCKET}`);
    bare.close();
    const dir = await mkdtemp(join(tmpdir(), 'cdcv-open-store-'));
    try {
      assert.ok(openObjectStore(pathToFileURL(dir).href) instanceof FileObjectStore);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('any other scheme, or an S3 URL without a bucket: ConfigError on lakeUrl naming the accepted forms', () => {
    for (const url of ['https://user:pa55word@example.com/lake', 'gs://bucket/x', '/tmp/lake', 's3://', 's3://key:pa55word@bucket/x']) {
      assert.throws(() => openObjectStore(url), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${url}: ${String(err)}`);
        assert.equal(err.field, 'lakeUrl');
        assert.match(err.message, /s3:\/\/bucket/);
        assert.ok(!err.message.includes('pa55word'), err.message);
        return true;
      });
    }
  });
});
