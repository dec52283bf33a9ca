/**
 * The client ceiling with @platformatic/kafka: consume a topic from the
 * earliest offset, JSON.parse every key and value and nothing else; stop when
 * every partition reached the end offset it had at start; print one JSON line.
 *
 *   node --import tsx bench/ceilings/platformatic.ts <brokers> <topic> <groupId>
 */
import { loadEnv } from '../../src/config.ts';

// @platformatic/kafka uses Promise.withResolvers (Node.js 22+); this project runs on Node.js 20 too.
const P = Promise as unknown as { withResolvers?: () => unknown };
P.withResolvers ??= () => {
  let resolve!: (v: unknown) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const { Consumer } = await import('@platformatic/kafka');

const [brokers, topic, groupId] = process.argv.slice(2) as [string, string, string];
const cfg = loadEnv();
const bootstrapBrokers = brokers.split(',');
const consumer = new Consumer({ groupId, clientId: 'bench-ceiling', bootstrapBrokers, maxBytes: cfg.CDCV_MAX_BYTES });
const ends = new Map<number, bigint>();
const list = await consumer.listOffsets({ topics: [topic] });
for (const [p, off] of (list.get(topic) ?? []).entries()) ends.set(p, off);
const next = new Map<number, bigint>();
let records = 0;
let sink = 0;
const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true, maxBytes: cfg.CDCV_MAX_BYTES });
let resolveDone!: () => void;
const done = new Promise<void>((r) => (resolveDone = r));
const check = (): void => {
  for (const [p, end] of ends) if (end > 0n && (next.get(p) ?? 0n) < end) return;
  resolveDone();
};
stream.on('data', (m) => {
  if (m.key && m.key.length > 0) sink += (JSON.parse(m.key.toString('utf8')) as object) ? 1 : 0;
  if (m.value && m.value.length > 0) sink += (JSON.parse(m.value.toString('utf8')) as object) ? 1 : 0;
  records += 1;
  next.set(m.partition, m.offset + 1n);
  if (records % 1000 === 0) check();
});
const poll = setInterval(check, 100);
check();
await done;
clearInterval(poll);
const seconds = performance.now() / 1000;
process.stdout.write(`${JSON.stringify({ done: true, records, parsed: sink, secondsSinceStart: seconds })}\n`);
await stream.close();
await consumer.close();
process.exit(0);
