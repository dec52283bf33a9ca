#!/usr/bin/env node
// Entry point of the `cdc-views` command: starts the CLI from the TypeScript
// sources in a checkout of the repository (registering tsx, a runtime
// dependency, first), or from the compiled dist/ in an installed package
// (which ships no src/). The compiled CLI registers tsx itself, and only when
// it loads a TypeScript topology module (src/topology/load.ts): a start-up
// without it costs half the CPU.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href);
}
