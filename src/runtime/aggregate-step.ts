/**
 * The fold step of incremental aggregates (`groupBy().aggregate({ initializer,
 * adder, subtractor })`, `count()`, `sum()`), with Kafka Streams' semantics:
 * a member row entering a group is added, a row leaving it is subtracted, an
 * update subtracts the old row and adds the new one — exactly once per
 * applied change, at a cost independent of the group's size.
 *
 * The adder and subtractor are the topology's TypeScript, so they cannot run
 * inside an atomic Redis script. The hand-off:
 *  1. propagate.lua marks each changed member in the view's fold inbox,
 *     atomically with clearing its table mark (a durable outbox);
 *  2. {@link foldMembers} reads each marked member's stored row and its
 *     contribution — the row last counted for it in a group, with the stored
 *     version it had — then the aggregates of the groups involved, and
 *     computes: subtract the contribution from its group, add the stored row
 *     to its new group;
 *  3. fold-aggregate.lua commits the new contributions and aggregates only
 *     if every contribution and aggregate read is still the one stored
 *     (compare-and-set), marks the groups for render and clears the fold
 *     marks. A lost race reads and computes again.
 * A member whose contribution already has its stored version is counted:
 * nothing to do. So a replayed or re-sent change (skipped by the version
 * guard, or re-marked by a drain), a fold redone after kill -9, or two
 * instances folding the same member count it once. The contribution, not the
 * table row, is what gets subtracted: the table row may have changed again
 * meanwhile.
 */
import { CdcViewsError } from '../errors.ts';
import { encodeContribution, parseContribution, parseStored, type Contribution } from '../state/encoding.ts';
import type { FoldCommit, FoldKeys, FoldRead, ViewStateStore } from '../state/view-store.ts';
import { keyStringOf, type Aggregator, type KeyFn } from '../topology/plan.ts';
import type { RenderFailure } from './dlq.ts';

/** Attempts at a fold whose inputs keep changing between its read and its commit. */
export const MAX_FOLD_ATTEMPTS = 10;

/** An incremental aggregate (a group root, op `g`, or a roll-up op), with its state table ids. */
export interface FoldTarget extends FoldKeys {
  /** The group key (or the parent root's key) of a member row; null: in no group. */
  key: KeyFn;
  aggregator: Aggregator;
}

/** The groups a fold marked for render (changed, or holding a member folded already), and the members whose fold threw (to the DLQ). */
export interface FoldOutcome {
  groups: string[];
  failed: RenderFailure[];
}

/** What one member's fold does: the contribution to subtract and the one to add (null: none). */
export interface MemberFold {
  read: FoldRead;
  counted: Contribution | null;
  next: Contribution | null;
}

/**
 * The fold of one member as read: nothing to do (null) when the contribution
 * already has the stored version, or when the member is neither stored nor
 * counted.
 * @throws whatever the topology's group key function throws
 */
export function decideFold(read: FoldRead, key: KeyFn): MemberFold | null {
  const counted = read.counted === null ? null : parseContribution(read.counted);
  if (counted !== null && counted.version === read.version) return null;
  const group = read.row === null ? '' : keyStringOf(key(read.row));
  const next = read.row !== null && group !== '' ? { version: read.version, group, row: read.row } : null;
  if (counted === null && next === null) return null;
  return { read, counted, next };
}

/** A group's aggregate while a fold computes it. */
interface GroupState {
  read: string | null;
  members: number;
  value: unknown;
}

/**
 * Computes a fold: each member's contribution subtracted from its group and
 * the new one added to its group, in member order. A member whose group key,
 * adder or subtractor throws leaves every group as it was, keeps its
 * contribution, and is returned in `failed` (its fold mark is cleared: it is
 * folded again by its next change).
 * @param stored the raw stored aggregate of each group in `groups` (null: none)
 */
export function computeFold(target: FoldTarget, reads: readonly FoldRead[], groups: readonly string[], stored: readonly (string | null)[]): { commit: FoldCommit; failed: RenderFailure[] } {
  const state = new Map<string, GroupState>();
  groups.forEach((g, i) => {
    const raw = stored[i] ?? null;
    const parsed = raw === null ? null : parseStored(raw);
    state.set(g, { read: raw, members: parsed ? Number(parsed.origin) : 0, value: parsed?.row ?? null });
  });
  const { initializer, adder, subtractor } = target.aggregator;
  const commit: FoldCommit = { members: [], groups: [], render: [] };
  const failed: RenderFailure[] = [];
  for (const read of reads) {
    let fold: MemberFold | null;
    try {
      fold = decideFold(read, target.key);
      if (fold !== null) {
        // Both sides are computed before either is stored, so a throw leaves every group as it was.
        const from = fold.counted ? state.get(fold.counted.group)! : null;
        const into = fold.next ? state.get(fold.next.group)! : null;
        let fromValue = from?.value;
        let fromMembers = from?.members ?? 0;
        if (from && fold.counted && from.members > 0) {
          fromValue = subtractor(from.value, fold.counted.row);
          fromMembers = from.members - 1;
        }
        // A group with no member left starts again from the initializer: its aggregate is always a fold of its members.
        const baseMembers = into === from ? fromMembers : (into?.members ?? 0);
        const baseValue = into === from ? fromValue : into?.value;
        const intoValue = into && fold.next ? adder(baseMembers > 0 ? baseValue : initializer(), fold.next.row) : undefined;
        if (from) Object.assign(from, { value: fromValue, members: fromMembers });
        if (into) Object.assign(into, { value: intoValue, members: baseMembers + 1 });
      }
    } catch (err) {
      failed.push({
        keyString: read.member,
        error: new CdcViewsError('RENDER_FAILED', `view ${target.view}, member ${read.member}: the topology's code threw while folding it into its group: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
        inputs: { member: { table: target.memberTable, key: read.member, version: read.version }, counted: read.counted === null ? null : read.counted.slice(0, read.counted.indexOf('\n')) },
      });
      commit.members.push({ member: read.member, read: read.counted, next: read.counted, token: read.token });
      continue;
    }
    // Counted already (a fold redone, a drain or a rewind marking it again): its group is rendered again, unchanged.
    if (fold === null && read.counted !== null) commit.render.push(parseContribution(read.counted).group);
    const next = fold === null ? read.counted : fold.next === null ? null : encodeContribution(fold.next);
    commit.members.push({ member: read.member, read: read.counted, next, token: read.token });
  }
  commit.render = [...new Set(commit.render)].filter((g) => !state.has(g));
  for (const [group, s] of state) commit.groups.push({ group, read: s.read, members: Math.max(0, s.members), aggregate: s.members > 0 ? (s.value ?? null) : null });
  return { commit, failed };
}

/**
 * Folds some members of an incremental aggregate (see the file header).
 * @returns the groups whose aggregates changed (marked for render) and the members whose fold threw
 * @throws {CdcViewsError} RENDER_CONTENDED (retriable) when the inputs kept changing for {@link MAX_FOLD_ATTEMPTS} attempts
 */
export async function foldMembers(store: ViewStateStore, target: FoldTarget, members: readonly string[]): Promise<FoldOutcome> {
  if (members.length === 0) return { groups: [], failed: [] };
  for (let attempt = 0; attempt < MAX_FOLD_ATTEMPTS; attempt++) {
    const reads = await store.readFold(target, members);
    const groups = groupsOf(reads, target.key);
    const stored = await store.readAggregates(target.aggregateTable, groups);
    const { commit, failed } = computeFold(target, reads, groups, stored);
    if (await store.commitFold(target, commit)) return { groups: [...commit.groups.map((g) => g.group), ...commit.render], failed };
  }
  throw new CdcViewsError('RENDER_CONTENDED', `view ${target.view}: members kept changing while folding them into their groups (${members.length} members)`, { retriable: true });
}

/** The groups a fold touches: each member's counted group and new group (a key function that throws adds none: computeFold reports it). */
function groupsOf(reads: readonly FoldRead[], key: KeyFn): string[] {
  const out = new Set<string>();
  for (const read of reads) {
    let fold: MemberFold | null;
    try {
      fold = decideFold(read, key);
    } catch {
      continue;
    }
    if (fold?.counted) out.add(fold.counted.group);
    if (fold?.next) out.add(fold.next.group);
  }
  return [...out];
}

