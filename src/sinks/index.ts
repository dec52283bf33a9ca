/**
 * Creates the sink objects of a view from its plan, resolving `{app}` in key
 * prefixes and index names to the applicationId.
 */
import type { Redis } from 'ioredis';
import type { SinkPlan } from '../topology/plan.ts';
import { CacheSink } from './cache.ts';
import { SearchIndexSink } from './search.ts';
import type { SearchConnection } from './search-client.ts';
import type { Sink } from './sink.ts';

/** What sinks need from the running application. */
export interface SinkContext {
  applicationId: string;
  redis: Redis;
  /** Search engine: its URL (CDCV_OPENSEARCH_URL) or the connection with credentials, CA and signing (./search-client.ts). */
  searchUrl: string | SearchConnection;
}

/** Replaces `{app}` with the applicationId. */
export const resolveName = (template: string, applicationId: string): string => template.replaceAll('{app}', applicationId);

/** The sink plan with its names resolved for one application. */
export function resolveSinkPlan(plan: SinkPlan, applicationId: string): SinkPlan {
  return plan.kind === 'cache'
    ? { ...plan, prefix: resolveName(plan.prefix, applicationId) }
    : { ...plan, index: resolveName(plan.index, applicationId) };
}

export function createSink(plan: SinkPlan, ctx: SinkContext): Sink {
  const resolved = resolveSinkPlan(plan, ctx.applicationId);
  switch (resolved.kind) {
    case 'cache':
      return new CacheSink(ctx.redis, resolved);
    case 'search':
      return new SearchIndexSink({ node: ctx.searchUrl, index: resolved.index, ...(resolved.mappings ? { mappings: resolved.mappings } : {}) });
  }
}
