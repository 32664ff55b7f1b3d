import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

/** What a checkpoint stores to continue an `Rng` exactly where it stopped. */
export interface RngState {
  algorithm: 'xoroshiro128plus';
  /** The seed and purpose path this stream was derived from (for humans and checks). */
  path: string;
  state: number[];
}

type Generator = ReturnType<typeof xoroshiro128plus>;

/** 32-bit FNV-1a, to turn a purpose label into a seed deterministically. */
function hashString(text: string, basis = 0x811c9dc5): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * Seeded, splittable randomness. The only source of randomness in policy-lab:
 * every stream (task sampling, decoding, bootstrap, ...) is `Rng.seeded(seed).split(purpose)`,
 * so two streams never share draws and each can be checkpointed on its own.
 */
export class Rng {
  private constructor(
    private readonly generator: Generator,
    readonly path: string,
  ) {}

  static seeded(seed: number, path = `seed:${seed}`): Rng {
    if (!Number.isSafeInteger(seed)) throw new TypeError(`Rng seed must be a safe integer, got ${String(seed)}`);
    // Mix high and low words so that seeds above 2^32 stay distinct.
    const mixed = hashString(String(seed)) ^ (seed | 0);
    return new Rng(xoroshiro128plus(mixed | 0), path);
  }

  static fromState(saved: RngState): Rng {
    if (saved?.algorithm !== 'xoroshiro128plus' || !Array.isArray(saved.state)) {
      throw new TypeError(`not an Rng state: ${JSON.stringify(saved)?.slice(0, 80)}`);
    }
    return new Rng(xoroshiro128plusFromState(saved.state), saved.path);
  }

  /**
   * An independent child stream for one purpose. Derived from this stream's path, not from
   * its current position, so `split('decode')` is the same stream however much the parent drew.
   */
  split(purpose: string): Rng {
    const path = `${this.path}/${purpose}`;
    return new Rng(xoroshiro128plus(hashString(path) | 0), path);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.generator);
  }

  /** Uniform integer in [from, to] (both included). */
  int(from: number, to: number): number {
    if (!(Number.isInteger(from) && Number.isInteger(to)) || to < from) {
      throw new RangeError(`Rng.int needs integers from <= to, got ${from}, ${to}`);
    }
    return uniformInt(this.generator, from, to);
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A new array in Fisher-Yates order. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** Index drawn with probability proportional to `weights` (non-negative, not all zero). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i] as number;
    if (!(total > 0)) throw new RangeError('Rng.categorical needs a positive total weight');
    let target = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      target -= weights[i] as number;
      if (target < 0) return i;
    }
    // Rounding can leave target >= 0 after the loop: return the last non-zero entry.
    for (let i = weights.length - 1; i >= 0; i--) if ((weights[i] as number) > 0) return i;
    return weights.length - 1;
  }

  state(): RngState {
    return { algorithm: 'xoroshiro128plus', path: this.path, state: [...this.generator.getState()] };
  }
}
