#!/usr/bin/env node
// Entry point of the `cdc-views` command: registers tsx (a runtime
// dependency; topology modules may be TypeScript), then starts the CLI — from
// the TypeScript sources in a checkout of the repository, from the compiled
// dist/ in an installed package (which ships no src/).
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('../dist/src/cli/main.js', import.meta.url).href);
