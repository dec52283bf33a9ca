/**
 * Every Redis key name cdc-views uses, and nothing else builds one: the rest
 * of the code asks these classes (or the stores in this folder) for names.
 *
 * ## One application's keys: `cdcv:<applicationId>:…`
 * Listed, cloned and dropped by that prefix.
 *
 * | key                                | type   | content                                            |
 * | ---------------------------------- | ------ | -------------------------------------------------- |
 * | `cdcv:<app>:t:<schema.table>`      | hash   | key string → stored row (see ./encoding.ts)        |
 * | `cdcv:<app>:tables`                | set    | names of the tables that have a `t:` hash          |
 * | `cdcv:<app>:format`                | string | layout version of the state (`2`: source versions) |
 * | `cdcv:<app>:snapshots`             | hash   | topic → snapshot to reconcile (JSON)               |
 * | `cdcv:<app>:snapshot-starts`       | hash   | `<topic>\0<version>\0<partition>` → first offset of the snapshot's reads |
 * | `cdcv:<app>:incarnations`          | hash   | topic → times it was found re-created              |
 * | `cdcv:<app>:history-lost`          | hash   | `<topic>:<partition>` → log start when state was built without the older history |
 * | `cdcv:<app>:housekeeping-lock`     | string | the instance running housekeeping (expires)        |
 * | `cdcv:<app>:render-lock`           | string | the instance draining view marks (expires)         |
 * | `cdcv:<app>:dirty:<schema.table>`  | hash   | key string → version applied, not yet propagated   |
 * | `cdcv:<app>:incomplete:<table>`    | hash   | key string → JSON list of columns the row lacks (TOAST) |
 * | `cdcv:<app>:positions`             | hash   | `<topic>:<partition>` → next offset to consume     |
 * | `cdcv:<app>:epochs`                | hash   | `<topic>:<partition>` → owner epoch                |
 * | `cdcv:<app>:position-stamps`       | hash   | `<topic>:<partition>` → timestamp of the record before the position |
 * | `cdcv:<app>:stats`                 | hash   | counters: `applied:<table>`, `stale:<table>`, `unchanged:<table>`, `backfill:<topic>`, `dlq`, `lastEvent:<topic>:<partition>` |
 * | `cdcv:<app>:seq:<view>`            | string | the view's render sequence counter                 |
 * | `cdcv:<app>:v:<view>:dirty`        | hash   | view root → counter, not yet rendered              |
 * | `cdcv:<app>:v:<view>:fk:<op>`      | hash   | view root → joined key it read (join op `<op>`)    |
 * | `cdcv:<app>:v:<view>:rev:<op>`     | zset   | `<joined key>\0<root>`: roots that read a joined key (all scores 0, read by lex range) |
 * | `cdcv:<app>:v:<view>:par:<op>`     | hash   | child/member key → its root (roll-up op, or `g` for a group) |
 * | `cdcv:<app>:v:<view>:mem:<op>`     | zset   | `<root>\0<member>`: members of each root (lex range) |
 * | `cdcv:<app>:v:<view>:fold:<op>`    | hash   | incremental aggregate (`g` a group, or a roll-up op): member key → counter, changed and not yet folded |
 * | `cdcv:<app>:v:<view>:contrib:<op>` | hash   | member key → the row counted in its group: `<version>\n<group key>\n<row JSON>` |
 * | `cdcv:<app>:v:<view>:agg-rev:<op>` | string | counter: the revision of each aggregate written    |
 * | `cdcv:<app>:t:view:<view>`         | hash   | a stream view's documents, or a group's incremental aggregate per group: `<rev>\n<members>\n<aggregate JSON>` |
 * | `cdcv:<app>:t:view:<view>.<op>`    | hash   | an incremental roll-up's aggregate per root (same form)  |
 *
 * Key strings (canonical JSON of a primary key, e.g. `{"id":7}`) never appear
 * in key names, only in hash fields and set members: their braces would be a
 * Redis Cluster hash tag, and one key per root or joined key would make
 * scripts build key names at run time. With this layout every key a script
 * touches is known before the call and passed in `KEYS`.
 *
 * ## Topology registry: `cdcv:topology:<name>:…`
 * | `cdcv:topology:<name>:versions`    | hash   | version → VersionEntry JSON (src/ops/versions.ts)  |
 * | `cdcv:topology:<name>:promoted`    | string | the version readers are switched to                |
 *
 * ## Cache sink: under the sink's own prefix (a topology setting, `{app}` resolved)
 * | `<prefix><key string>`             | string | the document JSON (the reader contract: src/ops/cache-reader.ts) |
 * | `<prefix>__seq`                    | hash   | key string → highest render sequence written       |
 * | `<template with {app} = topology>__current` | string | the promoted version's prefix (cache pointer) |
 *
 * The cache document names are a public contract (other services GET them),
 * so they keep the canonical key string.
 */

/** Separates the two parts of a `rev` / `mem` sorted-set member. JSON never holds a raw NUL. */
export const MEMBER_SEPARATOR = '\u0000';

/** Key names of one application. */
export class StateKeys {
  /** `cdcv:<applicationId>:`, the prefix of every key of the application. */
  readonly prefix: string;

  constructor(readonly applicationId: string) {
    this.prefix = `cdcv:${applicationId}:`;
  }

  /** Table state hash of `<schema.table>`. */
  table(table: string): string {
    return `${this.prefix}t:${table}`;
  }
  /** Prefix of every table state hash (for listing tables of an older layout). */
  get tablePrefix(): string {
    return `${this.prefix}t:`;
  }
  /** The layout version of the application's state (see StateStore.checkFormat). */
  get format(): string {
    return `${this.prefix}format`;
  }
  /** Partitions whose state was built without the history retention had deleted: `<topic>:<partition>` → the log start then. */
  get historyLost(): string {
    return `${this.prefix}history-lost`;
  }
  /** How many times each topic was found re-created: topic → incarnation (part of every origin). */
  get incarnations(): string {
    return `${this.prefix}incarnations`;
  }
  /** First offset of each snapshot's reads per partition: `<topic>\0<version>\0<partition>` → offset. */
  get snapshotStarts(): string {
    return `${this.prefix}snapshot-starts`;
  }
  /** Snapshots seen and not yet reconciled: topic → JSON (see the housekeeping punctuator). */
  get snapshots(): string {
    return `${this.prefix}snapshots`;
  }
  /** Lock of the render punctuator (one instance drains marks at a time). */
  get renderLock(): string {
    return `${this.prefix}render-lock`;
  }
  /** Lock of the housekeeping punctuator (one instance at a time). */
  get housekeepingLock(): string {
    return `${this.prefix}housekeeping-lock`;
  }
  /** Set of the table names that have state. */
  get tables(): string {
    return `${this.prefix}tables`;
  }
  /** Rows of a table stored without some columns: key string → JSON list of the missing columns. */
  incomplete(table: string): string {
    return `${this.prefix}incomplete:${table}`;
  }
  /** Changed keys of a table not yet propagated to its views. */
  dirty(table: string): string {
    return `${this.prefix}dirty:${table}`;
  }
  get positions(): string {
    return `${this.prefix}positions`;
  }
  /** Per partition: the timestamp of the record just before the stored position (see apply-chunk.lua). */
  get positionStamps(): string {
    return `${this.prefix}position-stamps`;
  }
  get epochs(): string {
    return `${this.prefix}epochs`;
  }
  get stats(): string {
    return `${this.prefix}stats`;
  }
  /** A view's render sequence counter. */
  seq(view: string): string {
    return `${this.prefix}seq:${view}`;
  }
  /** Roots of a view not yet rendered. */
  viewDirty(view: string): string {
    return `${this.prefix}v:${view}:dirty`;
  }
  /** Join op `op` of a view: root → the joined key it read. */
  viewForeignKeys(view: string, op: string): string {
    return `${this.prefix}v:${view}:fk:${op}`;
  }
  /** Join op `op` of a view: `<joined key>\0<root>` members. */
  viewReverseIndex(view: string, op: string): string {
    return `${this.prefix}v:${view}:rev:${op}`;
  }
  /** Roll-up op `op` (or `g`, a group) of a view: member → its root. */
  viewParents(view: string, op: string): string {
    return `${this.prefix}v:${view}:par:${op}`;
  }
  /** Roll-up op `op` (or `g`) of a view: `<root>\0<member>` members. */
  viewMembers(view: string, op: string): string {
    return `${this.prefix}v:${view}:mem:${op}`;
  }
  /** Incremental aggregate `op` of a view (`g` a group, or a roll-up op): member → counter, members changed and not yet folded. */
  viewFoldInbox(view: string, op: string): string {
    return `${this.prefix}v:${view}:fold:${op}`;
  }
  /** Incremental aggregate `op` of a view: member → the row counted in its group (see src/state/encoding.ts). */
  viewContributions(view: string, op: string): string {
    return `${this.prefix}v:${view}:contrib:${op}`;
  }
  /** Incremental aggregate `op` of a view: the counter that versions its stored aggregates. */
  viewAggregateRev(view: string, op: string): string {
    return `${this.prefix}v:${view}:agg-rev:${op}`;
  }
  /** SCAN pattern matching every key of the application. */
  get pattern(): string {
    return `${escapeGlob(this.prefix)}*`;
  }
  /** SCAN pattern matching the views' render sequence counters. */
  get seqPattern(): string {
    return `${escapeGlob(this.prefix)}seq:*`;
  }
  /** SCAN pattern matching the tables' dirty hashes. */
  get dirtyPattern(): string {
    return `${escapeGlob(this.prefix)}dirty:*`;
  }
  /** SCAN pattern matching the incremental aggregates' fold inboxes. */
  get viewFoldPattern(): string {
    return `${escapeGlob(this.prefix)}v:*:fold:*`;
  }
  /** SCAN pattern matching the view-root dirty hashes. */
  get viewDirtyPattern(): string {
    return `${escapeGlob(this.prefix)}v:*:dirty`;
  }
}

/** Key names of a topology's version registry. */
export class TopologyKeys {
  constructor(readonly topology: string) {}
  get versions(): string {
    return `cdcv:topology:${this.topology}:versions`;
  }
  get promoted(): string {
    return `cdcv:topology:${this.topology}:promoted`;
  }
}

/** Key names of one cache sink's namespace (`prefix` already resolved). */
export class CacheKeys {
  constructor(readonly prefix: string) {}
  /** The document of a canonical key string. */
  document(keyString: string): string {
    return `${this.prefix}${keyString}`;
  }
  /** The hash of the highest render sequence written per document. */
  get sequences(): string {
    return `${this.prefix}__seq`;
  }
  /** SCAN pattern matching the namespace's documents (canonical keys start with `{`). */
  get documentPattern(): string {
    return `${escapeGlob(this.prefix)}{*`;
  }
  /**
   * The cache namespace pointer of a view's cache sink: readers GET it to find
   * the promoted version's prefix. `resolvedForTopology` is the prefix template
   * with `{app}` replaced by the topology name.
   */
  static pointer(resolvedForTopology: string): string {
    return `${resolvedForTopology}__current`;
  }
}

/** Escapes a literal for a Redis SCAN MATCH glob. */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, '\\$&');
}
