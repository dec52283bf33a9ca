// Second step of `npm run build`, after tsc: copies what tsc does not emit
// into the output folder — every non-TypeScript file under src/ (the Lua
// scripts the state store loads from ./lua next to its modules) and the
// connector definitions under schemas/ (read from ../../schemas relative to
// dist/src/connect).
//
//   node scripts/copy-build-assets.mjs [outDir]    (default: dist)
import { cpSync } from 'node:fs';
import process from 'node:process';
import { join } from 'node:path';

const out = process.argv[2] ?? 'dist';
cpSync('src', join(out, 'src'), { recursive: true, filter: (f) => !f.endsWith('.ts') });
cpSync('schemas', join(out, 'schemas'), { recursive: true });
