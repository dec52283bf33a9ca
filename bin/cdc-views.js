#!/usr/bin/env node
// Entry point: runs the TypeScript CLI through tsx (installed as a dependency of the package).
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
register('tsx/esm', pathToFileURL('./'));
await import('../src/cli/main.ts');
