/**
 * loadTopology from folders outside the repository: `.ts` and `.js`, with and
 * without a package.json, importing `'cdc-views'` and a sibling module. The
 * CLI runs in a child process whose working directory is that folder, so
 * nothing of the repository's tsconfig applies: `'cdc-views'` resolves
 * through src/topology/loader-hooks.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadTopology } from '../../../src/topology/load.ts';

const BIN = join(import.meta.dirname, '../../../bin/cdc-views.js');
const run = promisify(execFile);
let dir: string;

const source = (name: string, helper: string): string => `import { StreamsBuilder } from 'cdc-views';
import { TABLE } from './${helper}';
const builder = new StreamsBuilder('${name}');
builder.table(TABLE).view('${name}-view').toCache();
export default builder.build();
`;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cdcv-load-'));
  writeFileSync(join(dir, 'tables.ts'), "export const TABLE = 'public.customers';\n");
  writeFileSync(join(dir, 'tables.js'), "export const TABLE = 'public.customers';\n");
  writeFileSync(join(dir, 'books.ts'), source('books', 'tables.ts'));
  writeFileSync(join(dir, 'plain.js'), source('plain', 'tables.js'));
  writeFileSync(join(dir, 'nodefault.ts'), "export const x = 1;\n");
});

after(() => rmSync(dir, { recursive: true, force: true }));

const describe = (file: string): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [BIN, 'topology', 'describe', file], { cwd: dir });

test('a .ts topology in a folder without package.json or node_modules imports cdc-views and a sibling module', async () => {
  const { stdout } = await describe('books.ts');
  assert.match(stdout, /^topology books \(books\.ts\)$/m);
  assert.match(stdout, /^ {2}books-view\b/m);
});

test('a .js topology there loads as an ES module', async () => {
  const { stdout } = await describe('plain.js');
  assert.match(stdout, /^topology plain \(plain\.js\)$/m);
});

test('two topologies from two folders load in one process', async () => {
  const other = mkdtempSync(join(tmpdir(), 'cdcv-load-other-'));
  try {
    writeFileSync(join(other, 'tables.ts'), "export const TABLE = 'public.orders';\n");
    writeFileSync(join(other, 'orders.ts'), source('orders', 'tables.ts'));
    const [a, b] = [await loadTopology(join(dir, 'books.ts')), await loadTopology(join(other, 'orders.ts'))];
    assert.deepEqual([a.name, b.name], ['books', 'orders']);
    assert.equal(b.views[0]!.root.table, 'public.orders');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('a module without a default export is refused, naming the file and the fix', async () => {
  await assert.rejects(describe('nodefault.ts'), (err: { stderr: string }) => /topology file nodefault\.ts: has no default export of a topology: end it with `export default builder\.build\(\)`/.test(err.stderr));
});
