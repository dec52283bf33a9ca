/**
 * One conformance suite for every sink (the contract of src/sinks/sink.ts),
 * run against the real store by each sink's test file: ordering by render
 * sequence, idempotence, deletes that older writes cannot undo, large
 * batches, and outages (write rejects with SinkUnavailableError within a
 * bounded time, nothing half-written, the same write succeeds afterwards).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { SinkUnavailableError, type Sink, type SinkWrite } from '../../../src/sinks/sink.ts';

/** A sink writing to a namespace of its own (index, key prefix) on a real store. */
export interface SinkHandle {
  sink: Sink;
  /** Reads one document back from the store, null when it does not exist. */
  read: (keyString: string) => Promise<Record<string, unknown> | null>;
  /** Removes what the sink wrote (index, keys) and closes what the handle opened. */
  cleanup: () => Promise<void>;
}

/** A sink on a store the test may make unavailable. */
export interface OutageHandle extends SinkHandle {
  /** Makes the store unavailable (stopped, frozen). */
  interrupt: () => Promise<void>;
  /** Brings the store back and waits until it answers. */
  resume: () => Promise<void>;
}

export interface OutageCase {
  name: string;
  create: () => Promise<OutageHandle>;
}

export interface ConformanceOptions {
  /** A new sink on a new namespace of the shared store, `init()` not yet called. */
  create: () => Promise<SinkHandle>;
  outages: OutageCase[];
  /** Longest time `write` may take to reject with SinkUnavailableError during an outage, ms. */
  unavailableWithinMs: number;
  /** True when one `write` is all-or-nothing (a Redis script); otherwise only each document is. */
  atomicWrites: boolean;
}

const key = (id: number): string => JSON.stringify({ id });
const put = (id: number, seq: number): SinkWrite => ({ keyString: key(id), seq, doc: { id, seq, name: `doc ${id} v${seq}` } });
const del = (id: number, seq: number): SinkWrite => ({ keyString: key(id), seq, doc: null });

/** What the store should hold for a key after a list of writes: the highest sequence's document. */
function expected(writes: readonly SinkWrite[]): Map<string, Record<string, unknown> | null> {
  const best = new Map<string, SinkWrite>();
  for (const w of writes) if ((best.get(w.keyString)?.seq ?? -1) < w.seq) best.set(w.keyString, w);
  return new Map([...best].map(([k, w]) => [k, w.doc]));
}

/** Reads many keys, 100 at a time. */
async function readAll(h: SinkHandle, keys: readonly string[]): Promise<Map<string, Record<string, unknown> | null>> {
  const out = new Map<string, Record<string, unknown> | null>();
  for (let i = 0; i < keys.length; i += 100) {
    const part = keys.slice(i, i + 100);
    const docs = await Promise.all(part.map((k) => h.read(k)));
    part.forEach((k, j) => out.set(k, docs[j] ?? null));
  }
  return out;
}

async function assertState(h: SinkHandle, want: Map<string, Record<string, unknown> | null>): Promise<void> {
  const got = await readAll(h, [...want.keys()]);
  const wrong = [...want].filter(([k, doc]) => JSON.stringify(got.get(k)) !== JSON.stringify(doc));
  assert.deepEqual(
    wrong.slice(0, 5).map(([k, doc]) => ({ key: k, got: got.get(k), want: doc })),
    [],
    `${wrong.length} of ${want.size} documents differ`,
  );
}

/** A fresh initialized sink whose namespace is removed when the test ends. */
async function open<H extends SinkHandle>(t: TestContext, create: () => Promise<H>): Promise<H> {
  const h = await create();
  t.after(() => h.cleanup());
  await h.sink.init();
  await h.sink.init(); // idempotent
  return h;
}

/** Registers the conformance tests of one sink. */
export function sinkConformance(name: string, opts: ConformanceOptions): void {
  describe(`sink conformance: ${name}`, () => {
    it('keeps the highest sequence across separate writes', async (t) => {
      const h = await open(t, opts.create);
      assert.deepEqual(await h.sink.write([put(1, 3)]), { written: 1, skipped: 0 });
      assert.deepEqual(await h.sink.write([put(1, 1)]), { written: 0, skipped: 1 });
      assert.deepEqual(await h.sink.write([put(1, 2)]), { written: 0, skipped: 1 });
      assert.equal(await h.sink.write([put(1, 3)]).then((r) => r.skipped), 1, 'an equal sequence is skipped too');
      assert.deepEqual(await h.read(key(1)), put(1, 3).doc);
    });

    it('keeps the highest sequence within one batch, in the batch order', async (t) => {
      const h = await open(t, opts.create);
      const batch = [put(1, 3), put(1, 1), put(1, 2), put(2, 1), put(2, 2), put(2, 3)];
      // Key 1: 3 written, 1 and 2 skipped. Key 2: each newer than the last, all written.
      assert.deepEqual(await h.sink.write(batch), { written: 4, skipped: 2 });
      await assertState(h, expected(batch));
    });

    it('is idempotent: the same batch twice gives the same state, all skipped the second time', async (t) => {
      const h = await open(t, opts.create);
      const batch = [...Array.from({ length: 50 }, (_, i) => put(i, 10 + i)), del(50, 7), del(51, 8)];
      assert.deepEqual(await h.sink.write(batch), { written: batch.length, skipped: 0 });
      await assertState(h, expected(batch));
      assert.deepEqual(await h.sink.write(batch), { written: 0, skipped: batch.length });
      await assertState(h, expected(batch));
    });

    it('deletes: removed, not resurrected by an older write, re-created by a newer one', async (t) => {
      const h = await open(t, opts.create);
      await h.sink.write([put(1, 1), put(2, 1)]);
      assert.deepEqual(await h.sink.write([del(1, 2)]), { written: 1, skipped: 0 });
      assert.equal(await h.read(key(1)), null);
      assert.deepEqual(await h.sink.write([put(1, 1)]), { written: 0, skipped: 1 }, 'an older write after the delete is skipped');
      assert.equal(await h.read(key(1)), null);
      assert.deepEqual(await h.sink.write([del(1, 2)]), { written: 0, skipped: 1 }, 'the same delete again is skipped');
      assert.deepEqual(await h.sink.write([put(1, 3)]), { written: 1, skipped: 0 });
      assert.deepEqual(await h.read(key(1)), put(1, 3).doc);
      // A delete of a document that never existed is fine, and still fences older writes.
      assert.deepEqual(await h.sink.write([del(9, 5)]), { written: 1, skipped: 0 });
      assert.deepEqual(await h.sink.write([put(9, 4)]), { written: 0, skipped: 1 });
      assert.equal(await h.read(key(9)), null);
      // Delete then older write within one batch.
      assert.deepEqual(await h.sink.write([del(2, 5), put(2, 4)]), { written: 1, skipped: 1 });
      assert.equal(await h.read(key(2)), null);
    });

    it('writes 2,000 documents in one batch', async (t) => {
      const h = await open(t, opts.create);
      const batch = Array.from({ length: 2000 }, (_, i) => put(i, 1));
      assert.deepEqual(await h.sink.write(batch), { written: 2000, skipped: 0 });
      const next = Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? del(i, 2) : i % 3 === 1 ? put(i, 2) : put(i, 0)));
      assert.deepEqual(await h.sink.write(next), { written: 1334, skipped: 666 });
      await assertState(h, expected([...batch, ...next]));
    });

    for (const outage of opts.outages) {
      it(`outage (${outage.name}): rejects with SinkUnavailableError in bounded time, nothing half-written, the retry succeeds`, async (t) => {
        const h = await open(t, outage.create);
        const before = Array.from({ length: 200 }, (_, i) => put(i, 1));
        await h.sink.write(before);
        const after = [
          ...Array.from({ length: 200 }, (_, i) => (i < 20 ? del(i, 2) : put(i, 2))),
          ...Array.from({ length: 100 }, (_, i) => put(200 + i, 2)),
        ];
        const old = expected(before);
        const neu = expected(after);

        await h.interrupt();
        let elapsed: number;
        try {
          const started = Date.now();
          await assert.rejects(h.sink.write(after), (err: unknown) => {
            assert.ok(err instanceof SinkUnavailableError, `expected SinkUnavailableError, got ${String(err)}`);
            assert.equal(err.retriable, true);
            assert.ok(err.retryAfterMs > 0);
            return true;
          });
          elapsed = Date.now() - started;
        } finally {
          await h.resume();
        }
        t.diagnostic(`${outage.name}: SinkUnavailableError after ${elapsed} ms`);
        assert.ok(elapsed <= opts.unavailableWithinMs, `rejected after ${elapsed} ms, bound ${opts.unavailableWithinMs} ms`);

        // Back: every document is the old or the new write, never something else (or older).
        const got = await readAll(h, [...neu.keys()]);
        const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
        const odd = [...neu.keys()].filter((k) => !same(got.get(k), old.get(k) ?? null) && !same(got.get(k), neu.get(k)));
        assert.deepEqual(odd, [], 'documents neither before nor after the failed write');
        if (opts.atomicWrites) {
          const applied = [...neu.keys()].filter((k) => same(got.get(k), neu.get(k)) && !same(got.get(k), old.get(k) ?? null)).length;
          assert.ok(applied === 0 || applied === neu.size, `an atomic write was half applied: ${applied} of ${neu.size}`);
        }

        // The retry of the same write succeeds and gives exactly the new state.
        const r = await h.sink.write(after);
        assert.equal(r.written + r.skipped, after.length);
        await assertState(h, neu);
      });
    }
  });
}
