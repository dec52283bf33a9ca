/**
 * How tests start the `cdc-views` command as a child process.
 *
 * The compiled CLI (`dist/src/cli/main.js`, what an installed package runs)
 * when `npm run build` made it after the newest change under `src/`, else the
 * TypeScript sources through tsx. `npm run test:integration` builds first, so
 * the suite runs the compiled CLI; a single test file run after an edit falls
 * back to the sources and stays correct, only slower.
 *
 * Why: a start-up costs ~0.75 s of CPU from `dist/` and ~1.7 s through tsx
 * (`/usr/bin/time node … status`, Dec 2026). The tests that start dozens of
 * commands side by side (ops-unreachable, leak) starved a 2-core CI machine
 * through tsx: commands bounded at 25 s took 30 s from spawn.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST_MAIN = join(ROOT, 'dist/src/cli/main.js');

/** Newest modification time (ms) of the files under `dir`. */
function newest(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) max = Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return max;
}

/** True when `dist/` holds a build at least as new as every file under `src/`. */
function distIsFresh(): boolean {
  try {
    return statSync(DIST_MAIN).mtimeMs >= newest(join(ROOT, 'src'));
  } catch {
    return false;
  }
}

/** Which entry this process's tests use: decided once. */
export const CLI_FROM_DIST = distIsFresh();

/**
 * Node arguments that run `cdc-views <args>` (spawn them with `process.execPath`
 * and the repository root as working directory).
 * @param args the command line after `cdc-views`
 */
export function cliArgv(args: readonly string[]): string[] {
  return CLI_FROM_DIST ? [DIST_MAIN, ...args] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args];
}
