/**
 * Module customization hooks for topology modules, registered by ./load.ts
 * with `node:module`'s `register()` (Node.js "Customization hooks":
 * https://nodejs.org/api/module.html#customization-hooks). They run on
 * Node's loader thread, so this module imports nothing of the package.
 *
 * - **resolve**: a topology mounted anywhere (a ConfigMap under
 *   `/etc/cdc-views/topologies`, a user's folder without `node_modules`)
 *   imports `'cdc-views'` or `'cdc-views/testing'`. ES modules ignore
 *   `NODE_PATH`, so when Node's own resolution finds no such package, the
 *   specifier resolves to the running package's entry points.
 * - **load**: a `.ts` or `.js` topology outside every `package.json` with
 *   `"type": "module"` would be read as CommonJS and fail on its `import`
 *   statements; files of the topology's folder that are not under
 *   `node_modules` are loaded as ES modules.
 */

/** What ./load.ts passes to `register()`. */
export interface LoaderHooksData {
  /** Specifier → URL of the running package's module, e.g. `cdc-views` → `file:///app/dist/src/index.js`. */
  entries: Record<string, string>;
  /** URLs of folders (ending in `/`) whose modules are topology code, loaded as ES modules. */
  topologyDirs: string[];
}

interface ResolveContext { parentURL?: string; conditions: string[]; importAttributes?: Record<string, string> }
interface ResolveResult { url: string; format?: string | null; shortCircuit?: boolean }
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
interface LoadContext { format?: string | null; conditions: string[]; importAttributes?: Record<string, string> }
interface LoadResult { format: string; source?: string | ArrayBuffer | Uint8Array | null; shortCircuit?: boolean }
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>;

let data: LoaderHooksData = { entries: {}, topologyDirs: [] };

/** Receives the entry points and the first topology folder; later folders arrive on `port`. */
export function initialize(init: LoaderHooksData & { port?: { on(event: 'message', fn: (dir: string) => void): void; unref?(): void } }): void {
  data = { entries: init.entries, topologyDirs: [...init.topologyDirs] };
  init.port?.on('message', (dir) => data.topologyDirs.push(dir));
  init.port?.unref?.();
}

/** Node's resolution first; the package's own entry points when it finds no `cdc-views`. */
export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  try {
    return await next(specifier, context);
  } catch (err) {
    const entry = data.entries[specifier];
    if (entry === undefined || (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    // Through the rest of the chain, so tsx (when registered) loads a .ts entry.
    return next(entry, context);
  }
}

const SCRIPT = /\.(?:[cm]?ts|js)$/;

/** Topology code is loaded as ES modules whatever the nearest package.json says. */
export async function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  const topologyCode = url.startsWith('file:') && SCRIPT.test(url) && !url.includes('/node_modules/') && data.topologyDirs.some((d) => url.startsWith(d));
  if (!topologyCode || context.format === 'module') return next(url, context);
  return next(url, { ...context, format: 'module' });
}
