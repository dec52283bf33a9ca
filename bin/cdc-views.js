#!/usr/bin/env node
// Entry point of the `cdc-views` command: registers tsx (a runtime dependency)
// so the TypeScript sources run as they are, then starts the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
