import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend.js';
import { TINY, temporaryFolder, tinyRegistry } from '../test-support/tiny.js';
import { train } from './train.js';

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

const run = (method: string, cacheDir: string, extra: Record<string, unknown> = {}, seed = 2) =>
  train({
    registry: tinyRegistry(),
    method,
    env: 'echo',
    seed,
    budget: { episodes: 48 },
    overrides: { ...TINY, ...extra },
    sftCacheDir: cacheDir,
  });

const stored = (cacheDir: string) => {
  try {
    return readdirSync(path.join(cacheDir, 'start-eval')).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
};

describe("a comparison's runs share the start's evaluation", () => {
  it('a second method of the same seed reads the first one’s evaluation, and it equals its own', async () => {
    const shared = temporaryFolder('start-eval-');
    const first = await run('reinforce-mean', shared);
    expect(stored(shared)).toHaveLength(1);
    // Planted: a run that reads the stored evaluation reports the planted value.
    const file = path.join(shared, 'start-eval', stored(shared)[0] as string);
    const planted = { ...JSON.parse(readFileSync(file, 'utf8')), meanLength: 999 };
    writeFileSync(file, JSON.stringify(planted));
    const reader = await run('picky', shared);
    expect(reader.initial.meanLength).toBe(999);
    expect(reader.curve[0]?.success).toBe(first.initial.success);
    // Lossless: the same method from a cache of its own computes what the first run stored.
    const alone = await run('picky', temporaryFolder('start-eval-'));
    expect(alone.initial).toEqual(first.initial);
    expect(alone.initial.perTask).toHaveLength(TINY.evalTasks);
    // Skipping the start's evaluation leaves the rest of the run as it was.
    expect(reader.final).toEqual(alone.final);
    expect(reader.curve.slice(1)).toEqual(alone.curve.slice(1));
  });

  it('another seed, or other evaluation settings, compute their own', async () => {
    const shared = temporaryFolder('start-eval-');
    await run('reinforce-mean', shared);
    await run('reinforce-mean', shared, {}, 3);
    await run('reinforce-mean', shared, { evalSamples: 2 });
    expect(stored(shared)).toHaveLength(3);
  });

  it('a run with a soft prompt (its evaluation is of the conditioned policy) neither reads nor writes it', async () => {
    const shared = temporaryFolder('start-eval-');
    await run('reinforce-mean', shared, { softPrompt: 2 });
    expect(stored(shared)).toHaveLength(0);
  });
});
