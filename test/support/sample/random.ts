/**
 * A small seeded pseudo-random number generator (mulberry32) and helpers, so
 * that the sample data and the workload are a pure function of their seed.
 */

/** Deterministic PRNG. The same seed always yields the same sequence. */
export class Rng {
  private state: number;

  /** @param seed any integer; only its low 32 bits are used. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p` (0..1). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * One element of a non-empty array.
   * @throws Error when `items` is empty.
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /**
   * Index chosen with probability proportional to `weights[i]` (non-negative,
   * at least one positive).
   * @throws Error when no weight is positive.
   */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    if (!(total > 0)) throw new Error('Rng.weighted: no positive weight');
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** A random (version 4 format) UUID string, derived from this generator. */
  uuid(): string {
    const hex: string[] = [];
    for (let i = 0; i < 32; i++) hex.push(this.int(0, 15).toString(16));
    hex[12] = '4';
    hex[16] = (8 + this.int(0, 3)).toString(16);
    const s = hex.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}

/**
 * A set with O(1) add, delete and uniform random pick, whose iteration and
 * pick order depend only on the sequence of operations (not on hashing).
 */
export class PickSet<T> {
  private readonly items: T[] = [];
  private readonly index = new Map<T, number>();

  constructor(initial: Iterable<T> = []) {
    for (const x of initial) this.add(x);
  }

  get size(): number {
    return this.items.length;
  }

  has(x: T): boolean {
    return this.index.has(x);
  }

  add(x: T): void {
    if (this.index.has(x)) return;
    this.index.set(x, this.items.length);
    this.items.push(x);
  }

  delete(x: T): boolean {
    const i = this.index.get(x);
    if (i === undefined) return false;
    const last = this.items.pop() as T;
    if (i < this.items.length) {
      this.items[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(x);
    return true;
  }

  /** A uniformly chosen element, or undefined when empty. */
  pick(rng: Rng): T | undefined {
    if (this.items.length === 0) return undefined;
    return this.items[rng.int(0, this.items.length - 1)];
  }

  values(): readonly T[] {
    return this.items;
  }
}
