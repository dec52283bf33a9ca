/**
 * Loading topology modules: `.ts` or `.js`, from any folder, with or without
 * a `package.json` — the repository's `topologies/`, a user's own project, or
 * a ConfigMap mounted into the pod — each importing `'cdc-views'`.
 *
 * The first load registers, once per process:
 * 1. tsx's ES module hooks (a runtime dependency), when the package runs
 *    compiled (`dist/`, the container image) and the topology is TypeScript;
 * 2. ./loader-hooks.ts, which resolves `'cdc-views'` and `'cdc-views/testing'`
 *    to the running package when no `node_modules` holds it, and loads the
 *    topology's folder as ES modules.
 */
import { register } from 'node:module';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import type { LoaderHooksData } from './loader-hooks.ts';
import type { TopologyPlan } from './plan.ts';

/** Running from the TypeScript sources (tsx already registered) rather than the compiled `dist/`. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? 'ts' : 'js';

let hooks: { port: MessagePort; dirs: Set<string> } | undefined;
let tsxRegistered = FROM_SOURCE;

/** Registers the hooks (once) and makes `dir` a topology folder. */
async function prepare(file: string): Promise<void> {
  if (!tsxRegistered && /\.[cm]?ts$/.test(file)) {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
    tsxRegistered = true;
  }
  const dir = pathToFileURL(`${dirname(file)}/`).href;
  if (!hooks) {
    const { port1, port2 } = new MessageChannel();
    const data: LoaderHooksData & { port: MessagePort } = {
      entries: {
        'cdc-views': new URL(`../index.${EXT}`, import.meta.url).href,
        'cdc-views/testing': new URL(`../testing.${EXT}`, import.meta.url).href,
      },
      topologyDirs: [dir],
      port: port2,
    };
    register(new URL(`./loader-hooks.${EXT}`, import.meta.url), { data, transferList: [port2] });
    port1.unref();
    hooks = { port: port1, dirs: new Set([dir]) };
  } else if (!hooks.dirs.has(dir)) {
    hooks.dirs.add(dir);
    hooks.port.postMessage(dir);
  }
}

/**
 * Loads a topology module: its default export is the plan returned by
 * `StreamsBuilder.build()`.
 * @param file path of a `.ts` or `.js` module, absolute or relative to the working directory
 * @throws {ConfigError} naming the file: not found, no default export, or invalid (with the node).
 */
export async function loadTopology(file: string): Promise<TopologyPlan> {
  const path = resolve(file);
  let mod: { default?: TopologyPlan };
  try {
    await prepare(path);
    mod = (await import(pathToFileURL(path).href)) as { default?: TopologyPlan };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`topology file ${file}`, err.message);
    throw new ConfigError(`topology file ${file}`, `cannot be loaded: ${(err as Error).message}`);
  }
  const t = mod.default;
  if (!t || typeof t.name !== 'string' || !Array.isArray(t.views)) {
    throw new ConfigError(`topology file ${file}`, 'has no default export of a topology: end it with `export default builder.build()`');
  }
  return { ...t, file };
}
