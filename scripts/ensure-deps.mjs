// Runs before `npm run demo` and `npm test` (npm's pre-scripts): installs the
// locked dependencies when node_modules is missing or older than the lock file,
// so the README's two commands work on a fresh clone. Plain Node: no dependency.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import process from 'node:process';

const marker = 'node_modules/.package-lock.json';
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs) {
  process.stdout.write('installing dependencies (npm ci) ...\n');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}
