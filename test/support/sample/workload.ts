/**
 * Workload generator for the sample commerce database (schemas/shop.sql):
 * a weighted random mix of realistic transactions, paced to a target number
 * of row changes per second, including the awkward cases a CDC consumer must
 * handle (deletes followed by re-inserts of the same key, primary-key
 * updates, NULL toggles, non-ASCII text, JSONB).
 *
 * Every row it writes carries `rev`, a per-key change counter (schemas/shop.sql):
 * an insert of a key the run has not seen starts at 0, every UPDATE sets
 * `rev = rev + 1`, and a key written again after a delete, or the target key
 * of a primary-key update, starts above the last rev that key had (the model
 * keeps a high-water mark per key, loaded from the live rows at start). Per
 * key, rev only grows during a run: a reader that sees it go down has seen an
 * older version of the row. (A later run does not know the keys an earlier run
 * deleted: run one workload per database when rev matters.)
 *
 * Determinism: transactions are planned one after another against an
 * in-memory model of the keys loaded from the database at start, from a PRNG
 * seeded with `seed`. Given the same seed and the same starting database, the
 * sequence of planned transactions is the same. Transactions run on several
 * connections concurrently, but a transaction waits for every earlier one that
 * touches one of its keys (a customer with its addresses, an order with its
 * lines, a product), so per key the changes commit in plan order and the final
 * database state is the same whatever the interleaving (except `now()`
 * timestamps). How many transactions run depends on the rate and duration.
 */
import pg from 'pg';
import { PickSet, Rng } from './random.ts';
import {
  ADDRESS_KINDS, ORDER_ID_BASE, addressRow, cents, customerRow, date, insertSql, lineNet, lineRow, money, orderLines,
  orderNote, orderRow, personName, preferences, priceCents, sqlLiteral, tier, type LineSpec, type SqlRow, type SqlValue,
} from './data.ts';

/** Counters of one workload run. Row counts are the rows PostgreSQL reported as changed. */
export interface WorkloadStats {
  /** Rows changed in total (inserts + updates + deletes). */
  changes: number;
  /** Rows inserted (including re-inserts and address upserts that inserted). */
  inserts: number;
  /** Rows updated (including primary-key updates and upserts that updated). */
  updates: number;
  /** Rows deleted. */
  deletes: number;
  /**
   * Rows whose primary key was changed by an UPDATE (products.sku,
   * order_lines.line_no / order_id, orders.id). Also counted in `updates`;
   * Debezium emits each as a delete of the old key (+ tombstone) and a create
   * of the new key.
   */
  keyUpdates: number;
  /** customers / orders rows inserted with an id that had been deleted or moved away earlier. */
  reinserts: number;
  /** Transactions committed. */
  transactions: number;
  /** Wall time since the start of the run, ms. */
  elapsedMs: number;
  /** Rows changed per table, keyed `public.<table>`. */
  perTable: Record<string, number>;
  /** Transactions committed per kind (`insertCustomer`, `renameSku`, …). */
  perKind: Record<string, number>;
  /** Statements whose changed-row count differed from the model's expectation (0 unless something else writes to the tables). */
  unexpectedRowCounts: number;
}

/** Options of {@link runWorkload}. */
export interface WorkloadOptions {
  /** Connection string of the sample database. */
  connectionString: string;
  /** Target row changes per second (> 0). The token bucket allows bursts of ~100 ms worth. */
  ratePerSecond: number;
  /** How long to issue transactions, seconds (> 0; `Infinity` runs until `signal` aborts). */
  durationSeconds: number;
  /** PRNG seed. Default 1. */
  seed?: number;
  /** Concurrent connections (1–16). Default 4. */
  connections?: number;
  /** `SET synchronous_commit` on the workload's sessions. Default true (`on`). */
  synchronousCommit?: boolean;
  /**
   * Stop after dispatching this many transactions (even before
   * `durationSeconds`). With it, a run is reproducible: the same seed, starting
   * data and limit give the same final rows (apart from `now()` timestamps).
   */
  maxTransactions?: number;
  /** Called about once per `progressIntervalMs` with a snapshot of the counters. */
  onProgress?: (stats: WorkloadStats) => void;
  /** Interval of `onProgress`, ms. Default 1000. */
  progressIntervalMs?: number;
  /** Stops issuing new transactions; in-flight ones finish and the stats are returned (no error). */
  signal?: AbortSignal;
}

type Op = 'insert' | 'update' | 'delete';

interface Stmt {
  sql: string;
  table: string;
  op: Op;
  /** Rows the model expects the statement to change. */
  expected: number;
  keyUpdate?: boolean;
  reinsert?: boolean;
}

interface Planned {
  kind: string;
  /** Model keys the transaction touches (`c:<id>`, `o:<id>`, `p:<sku>`). */
  keys: string[];
  stmts: Stmt[];
  rows: number;
}

interface CustomerState {
  tier: string | null;
  kinds: Set<string>;
}

interface OrderState {
  customerId: number;
  status: string;
  lines: Map<number, LineSpec>;
}

const NOW: SqlValue = { raw: 'now()' };
const NOW_LOCAL: SqlValue = { raw: "(now() AT TIME ZONE 'Europe/Berlin')" };
const STATUS_NEXT: Record<string, string> = { new: 'paid', paid: 'shipped', shipped: 'delivered' };

/** In-memory model of the keys in the database, and the transaction planner. */
class Model {
  readonly customers = new Map<number, CustomerState>();
  readonly customerIds = new PickSet<number>();
  readonly withAddresses = new PickSet<number>();
  readonly deletedCustomers = new PickSet<number>();
  nextCustomerId = 1;
  readonly prices = new Map<string, number>();
  readonly skus = new PickSet<string>();
  renames = 0;
  /** Skus named `<base>-R<n>` whose `<base>` is free (candidates for renaming back). */
  readonly renamed = new PickSet<string>();
  readonly orders = new Map<number, OrderState>();
  readonly orderIds = new PickSet<number>();
  readonly deletedOrders = new PickSet<number>();
  nextOrderId = ORDER_ID_BASE + 1;
  /**
   * Per key (`c:<id>`, `a:<id>:<kind>`, `p:<sku>`, `o:<id>`, `l:<order id>:<line no>`): the rev
   * of its row, or of its last row when it was deleted or moved away (the high-water mark).
   */
  private readonly revs = new Map<string, number>();
  private initialCustomers = 0;
  private initialOrders = 0;

  constructor(private readonly rng: Rng) {}

  /** The rev the next row written at key `k` gets (high-water mark + 1, or 0 for a key not seen), recorded. */
  private nextRev(k: string): number {
    const hw = this.revs.get(k);
    const rev = hw === undefined ? 0 : hw + 1;
    this.revs.set(k, rev);
    return rev;
  }

  /**
   * The rev a row moved from key `from` to key `to` by a primary-key update gets:
   * above both its own and the target key's high-water mark (SQL `GREATEST(rev + 1, <it>)`).
   */
  private movedRev(from: string, to: string): number {
    const rev = Math.max((this.revs.get(from) ?? 0) + 1, this.nextRev(to));
    this.revs.set(to, rev);
    return rev;
  }

  /** Loads keys (and the values the planner needs) from the database. */
  async load(c: pg.Client): Promise<void> {
    const cs = await c.query<{ id: number; tier: string | null; rev: number }>('SELECT id, tier, rev FROM public.customers ORDER BY id');
    for (const r of cs.rows) {
      this.revs.set(`c:${r.id}`, r.rev);
      this.customers.set(r.id, { tier: r.tier, kinds: new Set() });
      this.customerIds.add(r.id);
    }
    const as = await c.query<{ customer_id: number; kind: string; rev: number }>('SELECT customer_id, kind, rev FROM public.addresses ORDER BY customer_id, kind');
    for (const r of as.rows) {
      this.revs.set(`a:${r.customer_id}:${r.kind}`, r.rev);
      const cust = this.customers.get(r.customer_id);
      if (!cust) continue; // an orphan address: left alone
      cust.kinds.add(r.kind);
      this.withAddresses.add(r.customer_id);
    }
    const maxC = cs.rows.reduce((m, r) => Math.max(m, r.id), 0);
    for (let id = 1; id < maxC && this.deletedCustomers.size < 10_000; id++) if (!this.customers.has(id)) this.deletedCustomers.add(id);
    this.nextCustomerId = maxC + 1;

    const ps = await c.query<{ sku: string; price: string; rev: number }>('SELECT sku, price::text AS price, rev FROM public.products ORDER BY sku');
    for (const r of ps.rows) {
      this.revs.set(`p:${r.sku}`, r.rev);
      this.prices.set(r.sku, cents(r.price));
      this.skus.add(r.sku);
    }
    for (const sku of this.skus.values()) {
      const base = sku.replace(/-R\d+$/, '');
      if (base !== sku && !this.skus.has(base)) this.renamed.add(sku);
    }

    const os = await c.query<{ id: string; customer_id: number; status: string; rev: number }>('SELECT id::text AS id, customer_id, status, rev FROM public.orders ORDER BY id');
    for (const r of os.rows) {
      const id = Number(r.id);
      this.revs.set(`o:${id}`, r.rev);
      this.orders.set(id, { customerId: r.customer_id, status: r.status, lines: new Map() });
      this.orderIds.add(id);
    }
    const ls = await c.query<{ order_id: string; line_no: number; sku: string; quantity: number; unit_price: string; discount: string | null; rev: number }>(
      'SELECT order_id::text AS order_id, line_no, sku, quantity, unit_price::text AS unit_price, discount::text AS discount, rev FROM public.order_lines ORDER BY order_id, line_no',
    );
    for (const r of ls.rows) {
      this.revs.set(`l:${r.order_id}:${r.line_no}`, r.rev);
      const o = this.orders.get(Number(r.order_id));
      if (!o) continue; // orphan line: left alone
      o.lines.set(r.line_no, { lineNo: r.line_no, sku: r.sku, quantity: r.quantity, unitCents: cents(r.unit_price), discountCents: r.discount === null ? null : cents(r.discount) });
    }
    const orderIdList = os.rows.map((r) => Number(r.id));
    const maxO = orderIdList.reduce((m, id) => Math.max(m, id), ORDER_ID_BASE);
    const minO = orderIdList.reduce((m, id) => Math.min(m, id), maxO);
    for (let id = Math.max(minO, ORDER_ID_BASE + 1); id < maxO && this.deletedOrders.size < 10_000; id++) if (!this.orders.has(id)) this.deletedOrders.add(id);
    this.nextOrderId = maxO + 1;
    this.initialCustomers = this.customers.size;
    this.initialOrders = this.orders.size;
  }

  /** Plans the next transaction and applies it to the model. */
  plan(): Planned {
    const r = this.rng;
    const manyCustomers = this.customers.size > Math.max(1000, 4 * this.initialCustomers);
    const manyOrders = this.orders.size > Math.max(5000, 4 * this.initialOrders);
    const kinds: [string, number, () => Planned | null][] = [
      ['insertCustomer', manyCustomers ? 1 : 8, () => this.insertCustomer()],
      ['updateCustomer', 20, () => this.updateCustomer()],
      ['deleteCustomer', manyCustomers ? 8 : 3, () => this.deleteCustomer()],
      ['reinsertCustomer', 3, () => this.reinsertCustomer()],
      ['upsertAddress', 10, () => this.upsertAddress()],
      ['deleteAddress', 4, () => this.deleteAddress()],
      ['updateProductPrice', 10, () => this.updateProductPrice()],
      ['renameSku', 2, () => this.renameSku()],
      ['renumberLine', 3, () => this.renumberLine()],
      ['changeOrderId', 2, () => this.changeOrderId()],
      ['insertOrder', manyOrders ? 3 : 12, () => this.insertOrder()],
      ['updateOrder', 15, () => this.updateOrder()],
      ['deleteOrderLine', 4, () => this.deleteOrderLine()],
      ['deleteOrder', manyOrders ? 12 : 3, () => this.deleteOrder()],
      ['reinsertOrder', 3, () => this.reinsertOrder()],
    ];
    const weights = kinds.map((k) => k[1]);
    for (let attempt = 0; attempt < 20; attempt++) {
      const [kind, , fn] = kinds[r.weighted(weights)] as [string, number, () => Planned | null];
      const p = fn();
      if (p) {
        p.kind = kind;
        return p;
      }
    }
    const p = this.insertCustomer();
    p.kind = 'insertCustomer';
    return p;
  }

  private tx(keys: string[], stmts: Stmt[]): Planned {
    return { kind: '', keys, stmts, rows: stmts.reduce((s, x) => s + x.expected, 0) };
  }

  private newCustomer(id: number, reinsert: boolean): Planned {
    const r = this.rng;
    const row: SqlRow = { ...customerRow(r, id, personName(r), NOW), rev: this.nextRev(`c:${id}`) };
    const state: CustomerState = { tier: row.tier as string | null, kinds: new Set() };
    const stmts: Stmt[] = [{ sql: insertSql('public.customers', [row]), table: 'public.customers', op: 'insert', expected: 1, reinsert }];
    if (r.chance(0.5)) {
      const kind = r.pick(ADDRESS_KINDS);
      state.kinds.add(kind);
      this.withAddresses.add(id);
      stmts.push({ sql: insertSql('public.addresses', [{ ...addressRow(r, id, kind, NOW), rev: this.nextRev(`a:${id}:${kind}`) }]), table: 'public.addresses', op: 'insert', expected: 1 });
    }
    this.customers.set(id, state);
    this.customerIds.add(id);
    return this.tx([`c:${id}`], stmts);
  }

  private insertCustomer(): Planned {
    return this.newCustomer(this.nextCustomerId++, false);
  }

  private reinsertCustomer(): Planned | null {
    const id = this.deletedCustomers.pick(this.rng);
    if (id === undefined) return null;
    this.deletedCustomers.delete(id);
    return this.newCustomer(id, true);
  }

  private updateCustomer(): Planned | null {
    const r = this.rng;
    const id = this.customerIds.pick(r);
    if (id === undefined) return null;
    const cust = this.customers.get(id) as CustomerState;
    this.nextRev(`c:${id}`);
    const sets: string[] = ['updated_at = now()', 'rev = rev + 1'];
    if (r.chance(0.4)) sets.push(`name = ${sqlLiteral(personName(r))}`);
    if (r.chance(0.4)) {
      cust.tier = cust.tier === null ? tier(r) : r.chance(0.6) ? null : tier(r);
      sets.push(`tier = ${sqlLiteral(cust.tier)}`);
    }
    const prefRoll = r.next();
    if (prefRoll < 0.3) sets.push(`preferences = ${sqlLiteral({ json: preferences(r) })}`);
    else if (prefRoll < 0.5) sets.push(`preferences = jsonb_set(preferences, '{lang}', to_jsonb(${sqlLiteral(r.pick(['en', 'de', 'zh', 'ar']))}::text))`);
    if (r.chance(0.2)) sets.push('marketing_opt_in = NOT marketing_opt_in');
    if (r.chance(0.1)) sets.push(`birth_date = ${sqlLiteral(r.chance(0.3) ? null : date(r, 1950, 2005))}`);
    return this.tx([`c:${id}`], [{ sql: `UPDATE public.customers SET ${sets.join(', ')} WHERE id = ${id}`, table: 'public.customers', op: 'update', expected: 1 }]);
  }

  private deleteCustomer(): Planned | null {
    if (this.customers.size <= 20) return null;
    const id = this.customerIds.pick(this.rng);
    if (id === undefined) return null;
    const cust = this.customers.get(id) as CustomerState;
    const stmts: Stmt[] = [];
    if (cust.kinds.size > 0) stmts.push({ sql: `DELETE FROM public.addresses WHERE customer_id = ${id}`, table: 'public.addresses', op: 'delete', expected: cust.kinds.size });
    stmts.push({ sql: `DELETE FROM public.customers WHERE id = ${id}`, table: 'public.customers', op: 'delete', expected: 1 });
    this.customers.delete(id);
    this.customerIds.delete(id);
    this.withAddresses.delete(id);
    this.deletedCustomers.add(id);
    return this.tx([`c:${id}`], stmts);
  }

  private upsertAddress(): Planned | null {
    const r = this.rng;
    const id = this.customerIds.pick(r);
    if (id === undefined) return null;
    const cust = this.customers.get(id) as CustomerState;
    const kind = r.pick(ADDRESS_KINDS);
    const existed = cust.kinds.has(kind);
    cust.kinds.add(kind);
    this.withAddresses.add(id);
    const cols = ['line1', 'line2', 'city', 'postal_code', 'country', 'updated_at'];
    // When the row exists its rev is the high-water mark, so the update's rev + 1 is the same value.
    const row = { ...addressRow(r, id, kind, NOW), rev: this.nextRev(`a:${id}:${kind}`) };
    const sql = insertSql('public.addresses', [row], `ON CONFLICT (customer_id, kind) DO UPDATE SET ${cols.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, rev = addresses.rev + 1`);
    return this.tx([`c:${id}`], [{ sql, table: 'public.addresses', op: existed ? 'update' : 'insert', expected: 1 }]);
  }

  private deleteAddress(): Planned | null {
    const r = this.rng;
    const id = this.withAddresses.pick(r);
    if (id === undefined) return null;
    const cust = this.customers.get(id) as CustomerState;
    const kind = r.pick([...cust.kinds].sort());
    cust.kinds.delete(kind);
    if (cust.kinds.size === 0) this.withAddresses.delete(id);
    return this.tx([`c:${id}`], [{ sql: `DELETE FROM public.addresses WHERE customer_id = ${id} AND kind = ${sqlLiteral(kind)}`, table: 'public.addresses', op: 'delete', expected: 1 }]);
  }

  private updateProductPrice(): Planned | null {
    const r = this.rng;
    const sku = this.skus.pick(r);
    if (sku === undefined) return null;
    const price = r.chance(0.7) ? Math.max(1, Math.round(((this.prices.get(sku) as number) * r.int(80, 125)) / 100)) : priceCents(r);
    this.prices.set(sku, price);
    this.nextRev(`p:${sku}`);
    const sets = [`price = ${sqlLiteral(money(price))}`, 'updated_at = now()', 'rev = rev + 1'];
    if (r.chance(0.1)) sets.push('active = NOT active');
    if (r.chance(0.1)) sets.push(r.chance(0.5) ? 'attributes = NULL' : `attributes = ${sqlLiteral({ json: { color: r.pick(['red', 'grün', '黒']), weight_g: r.int(10, 5000) } })}`);
    return this.tx([`p:${sku}`], [{ sql: `UPDATE public.products SET ${sets.join(', ')} WHERE sku = ${sqlLiteral(sku)}`, table: 'public.products', op: 'update', expected: 1 }]);
  }

  /**
   * Renames a sku to `<base>-R<n>`, or (mostly, when some sku is renamed)
   * renames a renamed sku back to its base, so that only a few skus are
   * renamed at any time and most order lines (which keep the sku they were
   * written with) name an existing product.
   */
  private renameSku(): Planned | null {
    const r = this.rng;
    let old: string | undefined;
    let sku: string;
    if (this.renamed.size > 0 && r.chance(0.8)) {
      old = this.renamed.pick(r);
      if (old === undefined) return null;
      sku = old.replace(/-R\d+$/, '');
    } else {
      old = this.skus.pick(r);
      if (old === undefined) return null;
      const base = old.replace(/-R\d+$/, '');
      do sku = `${base}-R${++this.renames}`;
      while (this.skus.has(sku));
    }
    if (this.skus.has(sku)) return null;
    this.renamed.delete(old);
    this.skus.delete(old);
    this.skus.add(sku);
    if (/-R\d+$/.test(sku) && !this.skus.has(sku.replace(/-R\d+$/, ''))) this.renamed.add(sku);
    this.prices.set(sku, this.prices.get(old) as number);
    this.prices.delete(old);
    return this.tx([`p:${old}`, `p:${sku}`], [{
      sql: `UPDATE public.products SET sku = ${sqlLiteral(sku)}, updated_at = now(), rev = GREATEST(rev + 1, ${this.movedRev(`p:${old}`, `p:${sku}`)}) WHERE sku = ${sqlLiteral(old)}`,
      table: 'public.products', op: 'update', expected: 1, keyUpdate: true,
    }]);
  }

  private pickOrder(minLines: number): [number, OrderState] | null {
    for (let i = 0; i < 5; i++) {
      const id = this.orderIds.pick(this.rng);
      if (id === undefined) return null;
      const o = this.orders.get(id) as OrderState;
      if (o.lines.size >= minLines) return [id, o];
    }
    return null;
  }

  private total(o: OrderState): string {
    let t = 0;
    for (const l of o.lines.values()) t += lineNet(l);
    return money(t);
  }

  private renumberLine(): Planned | null {
    const picked = this.pickOrder(1);
    if (!picked) return null;
    const [id, o] = picked;
    const nos = [...o.lines.keys()].sort((a, b) => a - b);
    const oldNo = this.rng.pick(nos);
    const newNo = (nos[nos.length - 1] as number) + 1;
    const line = o.lines.get(oldNo) as LineSpec;
    o.lines.delete(oldNo);
    o.lines.set(newNo, { ...line, lineNo: newNo });
    return this.tx([`o:${id}`], [{
      sql: `UPDATE public.order_lines SET line_no = ${newNo}, rev = GREATEST(rev + 1, ${this.movedRev(`l:${id}:${oldNo}`, `l:${id}:${newNo}`)}) WHERE order_id = ${id} AND line_no = ${oldNo}`,
      table: 'public.order_lines', op: 'update', expected: 1, keyUpdate: true,
    }]);
  }

  private changeOrderId(): Planned | null {
    const old = this.orderIds.pick(this.rng);
    if (old === undefined) return null;
    const o = this.orders.get(old) as OrderState;
    const id = this.nextOrderId++;
    this.orders.delete(old);
    this.orderIds.delete(old);
    this.orders.set(id, o);
    this.orderIds.add(id);
    this.deletedOrders.add(old);
    const stmts: Stmt[] = [{ sql: `UPDATE public.orders SET id = ${id}, updated_at = now(), rev = GREATEST(rev + 1, ${this.movedRev(`o:${old}`, `o:${id}`)}) WHERE id = ${old}`, table: 'public.orders', op: 'update', expected: 1, keyUpdate: true }];
    // The new id is new to this run, so each line's target key is too: rev + 1 is above both marks.
    for (const no of o.lines.keys()) this.movedRev(`l:${old}:${no}`, `l:${id}:${no}`);
    if (o.lines.size > 0) stmts.push({ sql: `UPDATE public.order_lines SET order_id = ${id}, rev = rev + 1 WHERE order_id = ${old}`, table: 'public.order_lines', op: 'update', expected: o.lines.size, keyUpdate: true });
    return this.tx([`o:${old}`, `o:${id}`], stmts);
  }

  private newOrder(id: number, reinsert: boolean): Planned | null {
    const r = this.rng;
    const customerId = this.customerIds.pick(r);
    if (customerId === undefined || this.skus.size === 0) return null;
    const lines = orderLines(r, () => {
      const sku = this.skus.pick(r) as string;
      return [sku, this.prices.get(sku) as number];
    });
    const o: OrderState = { customerId, status: 'new', lines: new Map(lines.map((l) => [l.lineNo, l])) };
    this.orders.set(id, o);
    this.orderIds.add(id);
    const row = { ...orderRow(r, id, customerId, 'new', lines.reduce((s, l) => s + lineNet(l), 0), NOW, NOW_LOCAL), rev: this.nextRev(`o:${id}`) };
    const lineRows = lines.map((l) => ({ ...lineRow(id, l), rev: this.nextRev(`l:${id}:${l.lineNo}`) }));
    return this.tx([`o:${id}`], [
      { sql: insertSql('public.orders', [row]), table: 'public.orders', op: 'insert', expected: 1, reinsert },
      { sql: insertSql('public.order_lines', lineRows), table: 'public.order_lines', op: 'insert', expected: lines.length },
    ]);
  }

  private insertOrder(): Planned | null {
    return this.newOrder(this.nextOrderId++, false);
  }

  private reinsertOrder(): Planned | null {
    const id = this.deletedOrders.pick(this.rng);
    if (id === undefined) return null;
    const p = this.newOrder(id, true);
    if (p) this.deletedOrders.delete(id);
    return p;
  }

  private updateOrder(): Planned | null {
    const r = this.rng;
    const picked = this.pickOrder(0);
    if (!picked) return null;
    const [id, o] = picked;
    const stmts: Stmt[] = [];
    if (o.lines.size > 0 && r.chance(0.4)) {
      const line = o.lines.get(r.pick([...o.lines.keys()].sort((a, b) => a - b))) as LineSpec;
      line.quantity = r.int(1, 9);
      line.discountCents = null;
      this.nextRev(`l:${id}:${line.lineNo}`);
      stmts.push({
        sql: `UPDATE public.order_lines SET quantity = ${line.quantity}, discount = NULL, rev = rev + 1 WHERE order_id = ${id} AND line_no = ${line.lineNo}`,
        table: 'public.order_lines', op: 'update', expected: 1,
      });
    }
    this.nextRev(`o:${id}`);
    const sets = [`total = ${sqlLiteral(this.total(o))}`, 'updated_at = now()', 'rev = rev + 1'];
    const next = r.chance(0.05) ? 'cancelled' : STATUS_NEXT[o.status];
    if (next !== undefined && next !== o.status) {
      o.status = next;
      sets.push(`status = ${sqlLiteral(next)}`);
    }
    if (r.chance(0.2)) sets.push(`note = ${sqlLiteral(orderNote(r))}`);
    if (r.chance(0.1)) sets.push(`ship_by = ${sqlLiteral(r.chance(0.3) ? null : date(r, 2025, 2026))}`);
    stmts.push({ sql: `UPDATE public.orders SET ${sets.join(', ')} WHERE id = ${id}`, table: 'public.orders', op: 'update', expected: 1 });
    return this.tx([`o:${id}`], stmts);
  }

  private deleteOrderLine(): Planned | null {
    const picked = this.pickOrder(2);
    if (!picked) return null;
    const [id, o] = picked;
    const no = this.rng.pick([...o.lines.keys()].sort((a, b) => a - b));
    o.lines.delete(no);
    this.nextRev(`o:${id}`);
    return this.tx([`o:${id}`], [
      { sql: `DELETE FROM public.order_lines WHERE order_id = ${id} AND line_no = ${no}`, table: 'public.order_lines', op: 'delete', expected: 1 },
      { sql: `UPDATE public.orders SET total = ${sqlLiteral(this.total(o))}, updated_at = now(), rev = rev + 1 WHERE id = ${id}`, table: 'public.orders', op: 'update', expected: 1 },
    ]);
  }

  private deleteOrder(): Planned | null {
    if (this.orders.size <= 20) return null;
    const id = this.orderIds.pick(this.rng);
    if (id === undefined) return null;
    const o = this.orders.get(id) as OrderState;
    const stmts: Stmt[] = [];
    if (o.lines.size > 0) stmts.push({ sql: `DELETE FROM public.order_lines WHERE order_id = ${id}`, table: 'public.order_lines', op: 'delete', expected: o.lines.size });
    stmts.push({ sql: `DELETE FROM public.orders WHERE id = ${id}`, table: 'public.orders', op: 'delete', expected: 1 });
    this.orders.delete(id);
    this.orderIds.delete(id);
    this.deletedOrders.add(id);
    return this.tx([`o:${id}`], stmts);
  }
}

function emptyStats(): WorkloadStats {
  return { changes: 0, inserts: 0, updates: 0, deletes: 0, keyUpdates: 0, reinserts: 0, transactions: 0, elapsedMs: 0, perTable: {}, perKind: {}, unexpectedRowCounts: 0 };
}

function copyStats(s: WorkloadStats): WorkloadStats {
  return { ...s, perTable: { ...s.perTable }, perKind: { ...s.perKind } };
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/**
 * Runs the workload against the sample database (see the module comment) and
 * resolves with the final counters once every issued transaction has
 * committed. Each transaction is sent as one multi-statement round trip
 * (`BEGIN; …; COMMIT`).
 *
 * Pacing: a token bucket of row changes refilled at `ratePerSecond` (burst
 * ~100 ms worth); a transaction waits until tokens for all its rows are
 * available. With the default 4 connections several thousand changes/s are
 * reachable on a small machine; if the database cannot keep up the achieved
 * rate (`changes / elapsedMs`) is simply lower.
 *
 * Transaction kinds (relative weight): updateCustomer 20, updateOrder 15
 * (status progression, total, sometimes one line's quantity), insertOrder 12
 * (order + 1–4 lines), upsertAddress 10, updateProductPrice 10,
 * insertCustomer 8 (sometimes with an address), deleteAddress 4,
 * deleteOrderLine 4 (+ order total), deleteCustomer 3 (+ its addresses),
 * reinsertCustomer 3, deleteOrder 3 (+ its lines), reinsertOrder 3,
 * renumberLine 3, renameSku 2, changeOrderId 2 (+ its lines' order_id).
 * Inserts and deletes are rebalanced when a table grows beyond 4× its start.
 *
 * @throws Error when the database cannot be reached (e.g. code `3D000` when it
 *   does not exist), the tables are missing, `ratePerSecond`,
 *   `durationSeconds` or `connections` is out of range, or a transaction fails
 *   (in-flight transactions are awaited first; the error names the kind).
 */
export async function runWorkload(opts: WorkloadOptions): Promise<WorkloadStats> {
  const rate = opts.ratePerSecond;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`ratePerSecond must be a positive number, got ${rate}`);
  if (!(opts.durationSeconds > 0)) throw new Error(`durationSeconds must be > 0, got ${opts.durationSeconds}`);
  const nConn = opts.connections ?? 4;
  if (!Number.isInteger(nConn) || nConn < 1 || nConn > 16) throw new Error(`connections must be an integer in 1..16, got ${nConn}`);

  const clients: pg.Client[] = [];
  const stats = emptyStats();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < nConn; i++) {
      const c = new pg.Client({ connectionString: opts.connectionString, application_name: 'cdcv-workload' });
      clients.push(c);
      await c.connect();
      if (opts.synchronousCommit === false) await c.query('SET synchronous_commit = off');
    }
    const model = new Model(new Rng(opts.seed ?? 1));
    await model.load(clients[0] as pg.Client);

    const idle = [...clients];
    const waiters: ((c: pg.Client) => void)[] = [];
    const acquire = (): Promise<pg.Client> => {
      const c = idle.pop();
      return c ? Promise.resolve(c) : new Promise((res) => waiters.push(res));
    };
    const release = (c: pg.Client): void => {
      const w = waiters.shift();
      if (w) w(c);
      else idle.push(c);
    };

    let failure: Error | undefined;
    const exec = async (c: pg.Client, p: Planned): Promise<void> => {
      const sql = `BEGIN; ${p.stmts.map((s) => s.sql).join('; ')}; COMMIT`;
      let results: pg.QueryResult[];
      try {
        results = (await c.query(sql)) as unknown as pg.QueryResult[];
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        const e = err as Error;
        throw new Error(`workload transaction ${p.kind} failed: ${e.message}`, { cause: err });
      }
      p.stmts.forEach((s, i) => {
        const n = results[i + 1]?.rowCount ?? 0;
        if (n !== s.expected) stats.unexpectedRowCounts++;
        stats.changes += n;
        if (s.op === 'insert') stats.inserts += n;
        else if (s.op === 'update') stats.updates += n;
        else stats.deletes += n;
        if (s.keyUpdate) stats.keyUpdates += n;
        if (s.reinsert) stats.reinserts += n;
        stats.perTable[s.table] = (stats.perTable[s.table] ?? 0) + n;
      });
      stats.transactions++;
      stats.perKind[p.kind] = (stats.perKind[p.kind] ?? 0) + 1;
    };

    const keyTail = new Map<string, Promise<void>>();
    const inflight = new Set<Promise<void>>();
    const dispatch = (p: Planned): void => {
      const deps = p.keys.map((k) => keyTail.get(k)).filter((x): x is Promise<void> => x !== undefined);
      const settled = (async () => {
        await Promise.all(deps);
        if (failure) return;
        const c = await acquire();
        try {
          await exec(c, p);
        } finally {
          release(c);
        }
      })().catch((err: unknown) => {
        failure ??= err instanceof Error ? err : new Error(String(err));
      });
      inflight.add(settled);
      for (const k of p.keys) keyTail.set(k, settled);
      void settled.then(() => {
        inflight.delete(settled);
        for (const k of p.keys) if (keyTail.get(k) === settled) keyTail.delete(k);
      });
    };

    const start = performance.now();
    const durationMs = opts.durationSeconds * 1000;
    const maxInflight = nConn * 4;
    const capacity = Math.max(20, rate * 0.1);
    let tokens = 0;
    let last = start;
    if (opts.onProgress) {
      const onProgress = opts.onProgress;
      timer = setInterval(() => {
        stats.elapsedMs = performance.now() - start;
        onProgress(copyStats(stats));
      }, opts.progressIntervalMs ?? 1000);
    }

    let next: Planned | undefined;
    let dispatched = 0;
    const maxTx = opts.maxTransactions ?? Infinity;
    while (!failure && !opts.signal?.aborted && dispatched < maxTx) {
      const now = performance.now();
      if (now - start >= durationMs) break;
      tokens = Math.min(capacity, tokens + ((now - last) / 1000) * rate);
      last = now;
      next ??= model.plan();
      if (tokens < next.rows) {
        await sleep(Math.max(1, ((next.rows - tokens) / rate) * 1000));
        continue;
      }
      if (inflight.size >= maxInflight) {
        await Promise.race(inflight);
        continue;
      }
      tokens -= next.rows;
      dispatch(next);
      dispatched++;
      next = undefined;
    }
    await Promise.all(inflight);
    stats.elapsedMs = performance.now() - start;
    if (failure) throw failure;
    return copyStats(stats);
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * Upserts the watermark row (`public.cdcv_watermark`, id = 1) with `token`
 * and `written_at = now()`, in its own transaction. Once a consumer sees this
 * token in the CDC stream, every change committed before this call returned
 * has been captured too.
 *
 * @throws Error on connection or SQL errors (e.g. the table is missing).
 */
export async function writeWatermark(connectionString: string, token: string): Promise<void> {
  const c = new pg.Client({ connectionString, application_name: 'cdcv-workload' });
  await c.connect();
  try {
    await c.query(
      'INSERT INTO public.cdcv_watermark (id, token, written_at) VALUES (1, $1, now()) ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, written_at = EXCLUDED.written_at',
      [token],
    );
  } finally {
    await c.end();
  }
}
