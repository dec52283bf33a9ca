/**
 * The container image, as far as it can be checked without a Docker engine:
 * the Dockerfile's shape (multi-stage, production dependencies only, non-root,
 * tini), and its build steps replayed on this machine — compile with
 * tsconfig.build.json, copy the data files the compiled code reads — so the
 * image's entrypoint (node dist/src/cli/main.js) and the topology paths the
 * chart and the compose file name are known to work.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';
import { ROOT } from './helm.ts';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1) ?? '';
// inside the repository so the compiled code resolves node_modules and "type": "module" as in /app
const BUILD = join(ROOT, '.stack/image-build');
const DIST = join(BUILD, 'dist');

before(() => {
  rmSync(BUILD, { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', DIST], { cwd: ROOT, stdio: 'inherit' });
  // the second step of `npm run build`, as the Dockerfile's build stage runs it (asserted below)
  execFileSync(process.execPath, [join(ROOT, 'scripts/copy-build-assets.mjs'), DIST], { cwd: ROOT, stdio: 'inherit' });
});

test('Dockerfile: multi-stage; the runtime stage has production dependencies only, runs as a non-root uid under tini', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  assert.match(dockerfile, /npm ci --omit=dev/);
  assert.doesNotMatch(runtime, /npm (ci|install)(?!.*--omit=dev)/, 'no dev dependencies installed in the runtime stage');
  const user = /^USER\s+(\S+)/m.exec(runtime)?.[1] ?? '';
  assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, `USER ${user}: a numeric non-root uid (Kubernetes runAsNonRoot can only verify numbers)`);
  assert.match(runtime, /^ENTRYPOINT \["\/sbin\/tini", "--", "node", "\/app\/dist\/src\/cli\/main\.js"\]/m);
  assert.match(runtime, /apk add --no-cache tini/);
  assert.match(dockerfile, /^COPY scripts\/copy-build-assets\.mjs /m, 'the build stage has the step that copies the data files of src/ (Lua scripts) and schemas/');
  assert.match(dockerfile, /^RUN npm run build\b/m, 'the build stage runs `npm run build` (tsc, then the data files)');
  assert.match((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build!, /node scripts\/copy-build-assets\.mjs$/);
});

test('.dockerignore keeps node_modules, .stack and .git out of the build context', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '**', 'everything excluded, then the sources re-included');
  for (const l of lines.slice(1)) assert.ok(l.startsWith('!') && !/node_modules|\.stack|\.git\b|dist/.test(l), l);
});

test('the compiled CLI (the image entrypoint) starts: --help lists run, connect; run --help', () => {
  const main = join(DIST, 'src/cli/main.js');
  const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
  assert.match(help, /\brun\b/);
  assert.match(help, /\bconnect\b/);
  assert.match(execFileSync(process.execPath, [main, 'run', '--help'], { encoding: 'utf8' }), /--topology/);
});

test('every data file of src/ (Lua scripts) sits next to the compiled modules; schemas/ is where the compiled code looks', () => {
  const data = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.lua'));
  assert.ok(data.length > 0);
  for (const f of data) assert.ok(existsSync(join(DIST, 'src', f)), f);
  assert.ok(existsSync(join(DIST, 'schemas/shop.sql')));
  assert.ok(existsSync(join(DIST, 'schemas/connectors/shop.json')));
});

test('every example topology compiles to dist/topologies/<name>.js with a default export', async () => {
  const files = readdirSync(join(ROOT, 'topologies')).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(DIST, 'topologies', f.replace(/\.ts$/, '.js'))).href)) as { default?: { name?: unknown; views?: unknown } };
    assert.equal(typeof mod.default?.name, 'string', f);
    assert.ok(Array.isArray(mod.default?.views), f);
  }
});
