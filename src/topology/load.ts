/** Loading topology modules (`topologies/*.ts`). */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import type { TopologyPlan } from './plan.ts';

/**
 * Loads a topology module: its default export is the plan returned by
 * `StreamsBuilder.build()`.
 * @throws {ConfigError} naming the file: not found, no default export, or invalid (with the node).
 */
export async function loadTopology(file: string): Promise<TopologyPlan> {
  let mod: { default?: TopologyPlan };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: TopologyPlan };
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
