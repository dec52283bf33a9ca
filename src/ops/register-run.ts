/**
 * A live application that runs as a topology version registers itself.
 *
 * The chart runs each topology as applicationId `<topology>-<version>`
 * (default `<topology>-v1`). When `cdc-views run` starts such an application
 * and the registry does not list that version yet, the run registers it, so
 * that `versions`, `promote` (to a replay and back to this version) and `drop`
 * know it without an operator step:
 * - a fresh application (no state) is set up exactly as
 *   `replay --version <version> --from earliest` would (same checks, same start
 *   positions: the log start of each partition);
 * - an application that already has state (it ran before this registration
 *   existed) is registered as it is, built from `earliest`.
 * Two replicas starting at once agree: the registry's HSETNX decides, and the
 * one that lost finds the version registered by the other.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { StateStore } from '../state/store.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { matchingTopics, versionEntry } from './replay-plan.ts';
import { prepareReplay } from './replay.ts';
import { VERSION_RE, VersionRegistry, versionSinks } from './versions.ts';

/** What {@link registerRunningVersion} did. */
export type RunRegistration =
  | { kind: 'not-a-version'; reason: string }
  | { kind: 'known'; version: string }
  | { kind: 'registered'; version: string; description: string };

/**
 * The version an applicationId names for a topology: `<topology>-<version>`
 * with a version of letters, digits, `.` and `_`; null otherwise.
 */
export function versionOfApplication(topology: string, applicationId: string): string | null {
  const prefix = `${topology}-`;
  if (!applicationId.startsWith(prefix)) return null;
  const version = applicationId.slice(prefix.length);
  return VERSION_RE.test(version) ? version : null;
}

/**
 * Registers the application `run` starts as a version of its topology when
 * its applicationId is `<topology>-<version>` and the version is not
 * registered (see the module comment).
 * @param topics the regex the application consumes (`--topics`)
 * @throws {CdcViewsError} OPS_VERSION_EXISTS when the version is registered for another
 *   applicationId; OPS_NO_TOPICS, OPS_TABLE_NOT_FED as `replay` does; Kafka and Redis errors.
 */
export async function registerRunningVersion(
  ctx: { redis: Redis; admin: Admin; kafka: Kafka },
  plan: TopologyPlan,
  applicationId: string,
  topics: RegExp,
  topologyFile?: string,
): Promise<RunRegistration> {
  const version = versionOfApplication(plan.name, applicationId);
  if (version === null) return { kind: 'not-a-version', reason: `the applicationId is not ${plan.name}-<version>` };
  let sinks;
  try {
    sinks = versionSinks(plan, applicationId);
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'not-a-version', reason: err.message };
    throw err;
  }
  const registry = new VersionRegistry(ctx.redis, plan.name);
  const known = async (): Promise<boolean> => {
    const entry = await registry.get(version);
    if (!entry) return false;
    if (entry.applicationId !== applicationId) {
      throw new CdcViewsError('OPS_VERSION_EXISTS', `version ${version} of ${plan.name} is registered for application ${entry.applicationId}, not ${applicationId}; run under another applicationId or drop that version`);
    }
    return true;
  };
  if (await known()) return { kind: 'known', version };

  const store = new StateStore(ctx.redis, applicationId);
  try {
    if (await store.exists()) {
      const all = await ctx.admin.listTopics();
      const entry = versionEntry({ version, applicationId, createdAt: new Date(), from: { kind: 'earliest' }, complete: true, ...(topologyFile ? { topologyFile } : {}), topics: matchingTopics(all, topics), sinks });
      await registry.add(entry);
      return { kind: 'registered', version, description: `registered the running application ${applicationId} (it has state already) as version ${version}` };
    }
    const prepared = await prepareReplay(ctx, { plan, version, from: { kind: 'earliest' }, topics, ...(topologyFile ? { topologyFile } : {}) });
    return { kind: 'registered', version, description: prepared.description };
  } catch (err) {
    // Another replica registered it between our check and our write.
    if (err instanceof CdcViewsError && err.code === 'OPS_VERSION_EXISTS' && (await known())) return { kind: 'known', version };
    throw err;
  }
}
