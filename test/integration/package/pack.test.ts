/**
 * The package as a user gets it: `npm pack`, installed into a folder of its
 * own, with a typed topology that imports `from 'cdc-views'`.
 *
 * 1. `npm pack` (its `prepack` builds dist/), `npm install <tarball>` into a
 *    temporary project outside the repository.
 * 2. The project's topology types its rows (`builder.table<Order>(…)`) and
 *    misspells a column of the joined table behind `@ts-expect-error`: tsc
 *    passes, and fails naming the column once the directive is removed — so
 *    the row type really flows through the join.
 * 3. Its unit test runs the installed `cdc-views/testing` driver.
 * 4. The installed `cdc-views` command runs it on the real stack
 *    (`run --until-caught-up`), and every cache document equals its SQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { loadTopology } from '../../../src/topology/load.ts';
import { mismatches, verifyCacheView } from '../../support/verify/compare.ts';
import { writeWatermark } from '../../support/sample/workload.ts';
import { StateStore, cfg, newRedis, pipeline, uniqueId } from '../helpers.ts';

const ROOT = join(import.meta.dirname, '../../..');
const run = promisify(execFile);
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

let dir: string;
let p: Awaited<ReturnType<typeof pipeline>> | undefined;

const TABLES = `/** public.orders, as cdc-views' canonical value mapping delivers it. */
export type Order = { id: number; customer_id: number; status: string; total: string; placed_at: string; note: string | null };
/** public.customers. */
export type Customer = { id: number; name: string; email: string; tier: string | null };
`;

const topology = (misspelled: boolean): string => `import { StreamsBuilder } from 'cdc-views';
import type { Customer, Order } from './tables.ts';

const builder = new StreamsBuilder('order-customers');
const customers = builder.table<Customer>('public.customers');
builder
  .table<Order>('public.orders')
  .join(customers, {
    name: 'customer',
    key: (order) => ({ id: order.customer_id }),
    kind: 'left',
    joiner: (order, customer) => ({ id: order.id, status: order.status, total: order.total, customerName: customer?.name ?? null }),
  })
  .mapValues((doc) => {
${misspelled ? '    // @ts-expect-error customerNmae is misspelled: the value type after the join has customerName\n' : ''}    void doc.customerNmae;
    return doc;
  })
  .as('order-customers', {
    sql: \`SELECT o.id, o.status, o.total::text AS total, c.name AS "customerName", json_build_object('id', o.id) AS _key
           FROM public.orders o LEFT JOIN public.customers c ON c.id = o.customer_id\`,
  })
  .toCache();
export default builder.build();
`;

const DRIVER_TEST = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopologyTestDriver } from 'cdc-views/testing';
import topology from './order-customers.ts';

test('an order shows its customer, and null after the customer is deleted', async () => {
  const driver = await TopologyTestDriver.create(topology);
  try {
    await driver.upsert('public.customers', { id: 1 }, { id: 1, name: 'Ada', email: 'ada@example.com', tier: null });
    await driver.upsert('public.orders', { id: 7 }, { id: 7, customer_id: 1, status: 'new', total: '12.50', placed_at: '2026-01-01T00:00:00.000000Z', note: null });
    assert.deepEqual(driver.document('order-customers', { id: 7 }), { id: 7, status: 'new', total: '12.50', customerName: 'Ada' });
    await driver.delete('public.customers', { id: 1 });
    assert.deepEqual(driver.document('order-customers', { id: 7 }), { id: 7, status: 'new', total: '12.50', customerName: null });
  } finally {
    await driver.close();
  }
});
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
    allowImportingTsExtensions: true, verbatimModuleSyntax: true, skipLibCheck: true,
    typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'],
  },
  include: ['*.ts'],
};

/** Runs a command in the project; never rejects: the exit code and output. */
async function inProject(file: string, args: string[], env: NodeJS.ProcessEnv = {}, timeout = 180_000): Promise<{ code: number; out: string }> {
  // Without the runner's NODE_TEST_CONTEXT, a child `node --test` runs its files instead of reporting to this runner.
  const { NODE_TEST_CONTEXT: _runner, ...inherited } = process.env;
  try {
    const r = await run(file, args, { cwd: dir, env: { ...inherited, ...env }, timeout, maxBuffer: 32 << 20 });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cdcv-user-'));
  const packed = await run('npm', ['pack', '--pack-destination', dir, '--silent'], { cwd: ROOT, maxBuffer: 32 << 20 });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack wrote a tarball: ${packed.stdout}`);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'my-derived-stores', private: true, type: 'module' }));
  const installed = await inProject('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', `./${tarball}`]);
  assert.equal(installed.code, 0, `npm install of the tarball: ${installed.out}`);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
  writeFileSync(join(dir, 'tables.ts'), TABLES);
  writeFileSync(join(dir, 'order-customers.ts'), topology(true));
  writeFileSync(join(dir, 'order-customers.test.ts'), DRIVER_TEST);
});

after(async () => {
  await p?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the installed package exports only its public entry points, with declarations', async () => {
  const { code, out } = await inProject(process.execPath, ['--input-type=module', '-e', `
    const api = await import('cdc-views'); const testing = await import('cdc-views/testing');
    let internal = 'importable';
    try { await import('cdc-views/dist/src/state/store.js'); } catch (e) { internal = e.code; }
    console.log(JSON.stringify({ api: Object.keys(api).sort(), testing: Object.keys(testing).sort(), internal }));`]);
  assert.equal(code, 0, out);
  const seen = JSON.parse(out) as { api: string[]; testing: string[]; internal: string };
  for (const name of ['StreamsBuilder', 'KTable', 'TopologyError', 'readCacheDocuments']) assert.ok(seen.api.includes(name), `cdc-views exports ${name}: ${seen.api.join(', ')}`);
  assert.ok(!seen.api.includes('TopologyTestDriver'), 'the driver is in cdc-views/testing, not the main entry point');
  assert.deepEqual(seen.testing, ['TEST_REDIS_ENV', 'TopologyTestDriver']);
  assert.equal(seen.internal, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'internal modules are not importable');
});

test('a typed topology type-checks against the installed declarations; the misspelled column through the join is an error', async () => {
  const ok = await inProject(process.execPath, [TSC, '-p', '.']);
  assert.equal(ok.code, 0, `tsc with @ts-expect-error: ${ok.out}`);
  writeFileSync(join(dir, 'order-customers.ts'), topology(false));
  try {
    const bad = await inProject(process.execPath, [TSC, '-p', '.']);
    assert.notEqual(bad.code, 0, 'without the directive, tsc fails');
    assert.match(bad.out, /order-customers\.ts\(\d+,\d+\): error TS2551: Property 'customerNmae' does not exist on type '\{ id: number; status: string; total: string; customerName: string \| null; \}'/);
  } finally {
    writeFileSync(join(dir, 'order-customers.ts'), topology(true));
  }
});

test("the user's unit test runs the installed TopologyTestDriver", async () => {
  const r = await inProject(process.execPath, ['--import', 'tsx', '--test', 'order-customers.test.ts']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /# pass 1\n# fail 0/);
});

test('the installed cdc-views command runs the topology on the real stack: every document equals its SQL', async () => {
  p = await pipeline('pack');
  const app = `${p.id}-v1`;
  const redis = newRedis();
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  try {
    const env = { CDCV_KAFKA_BROKERS: cfg.CDCV_KAFKA_BROKERS, CDCV_REDIS_URL: cfg.CDCV_REDIS_URL, CDCV_LOG_LEVEL: 'warn' };
    const store = new StateStore(redis, app);
    // Caught up with everything committed before a watermark: run again until the watermark is in state.
    let runs = 0;
    for (let caught = false; !caught; ) {
      assert.ok(runs < 10, `watermark not applied after ${runs} runs`);
      const token = uniqueId('w');
      await writeWatermark(p.connectionString, token);
      const r = await inProject(join(dir, 'node_modules/.bin/cdc-views'), ['run', '--app', app, '--topics', p.topics.source, '--topology', 'order-customers.ts', '--http-port', '0', '--until-caught-up'], env);
      runs += 1;
      assert.equal(r.code, 0, `cdc-views run: ${r.out}`);
      caught = (await store.get(`${p.topicPrefix}.public.cdcv_watermark`, '{"id":1}'))?.row?.token === token;
    }
    const plan = await loadTopology(join(dir, 'order-customers.ts'));
    const c = await verifyCacheView(source, redis, plan.views[0]!, `cache:${app}:order-customers:`);
    assert.ok(c.expected > 100, `orders compared: ${c.expected}`);
    assert.equal(mismatches(c), 0, JSON.stringify(c.firstDifference ?? { missing: c.missing.slice(0, 3), extra: c.extra.slice(0, 3) }));
  } finally {
    await source.end();
    redis.disconnect();
  }
});

test("a topology mounted where no node_modules is (a ConfigMap's folder, no package.json) loads in the installed command and imports 'cdc-views' from it", async () => {
  const mounted = mkdtempSync(join(tmpdir(), 'cdcv-configmap-'));
  try {
    // As a ConfigMap holds them: the topology and the module it imports, nothing else.
    writeFileSync(join(mounted, 'tables.ts'), TABLES);
    writeFileSync(join(mounted, 'order-customers.ts'), topology(true));
    const r = await inProject(join(dir, 'node_modules/.bin/cdc-views'), ['topology', 'describe', join(mounted, 'order-customers.ts')]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^topology order-customers /m);
    assert.match(r.out, /public\.customers/);
  } finally {
    rmSync(mounted, { recursive: true, force: true });
  }
});
