/**
 * Properties every registered loss of the installed catalog must have, whichever package it
 * comes from: one aggregation, so a row of weight 0 (MC-GRPO's pivot, a filtered sample)
 * changes neither the loss nor its gradient; and every plugin's text (summary, formula) is free
 * of control characters (a single backslash in a JS string turns \t, \r, \b into them).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGGREGATIONS, type Aggregation, type LossBatch, PLUGIN_KINDS, Rng, type RowLoss } from '@policy-lab/core';
import { createRegistry } from '@policy-lab/core/node';
import { initBackend } from '@policy-lab/trainer';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { registry } = await createRegistry({ cwd: root, discoverFrom: [root] });

beforeAll(async () => {
  await initBackend({ name: 'wasm', kernels: 'fast', threads: 1 });
});

type Loss = RowLoss<typeof tf, tf.Tensor>;

interface Rows {
  logprobs: number[][];
  old: number[][];
  ref: number[][];
  advantages: number[][];
  mask: number[][];
  weights: number[];
}

const T = 4;
const row = fc.record({
  logprobs: fc.array(fc.double({ min: -3, max: -0.05, noNaN: true }), { minLength: T, maxLength: T }),
  shift: fc.array(fc.double({ min: -0.3, max: 0.3, noNaN: true }), { minLength: T, maxLength: T }),
  refShift: fc.array(fc.double({ min: -0.5, max: 0.5, noNaN: true }), { minLength: T, maxLength: T }),
  advantage: fc.double({ min: -2, max: 2, noNaN: true }),
  length: fc.integer({ min: 1, max: T }),
});

type DrawnRow = { logprobs: number[]; shift: number[]; refShift: number[]; advantage: number; length: number };

function rowsOf(drawn: readonly DrawnRow[], weights: number[]): Rows {
  return {
    logprobs: drawn.map((r) => r.logprobs),
    old: drawn.map((r) => r.logprobs.map((lp, t) => Math.min(-0.01, lp + (r.shift[t] as number)))),
    ref: drawn.map((r) => r.logprobs.map((lp, t) => Math.min(-0.01, lp + (r.refShift[t] as number)))),
    advantages: drawn.map((r) => Array(T).fill(r.advantage)),
    mask: drawn.map((r) => Array.from({ length: T }, (_, t) => (t < r.length ? 1 : 0))),
    weights,
  };
}

/** The loss and its gradient with respect to the log-probabilities of the first `keep` rows. */
function lossAndGradient(loss: Loss, rows: Rows, aggregation: Aggregation, keep: number): { value: number; gradient: number[] } {
  const batchOf = (logprobs: tf.Tensor): LossBatch<tf.Tensor> => ({
    logprobs,
    oldLogprobs: tf.tensor2d(rows.old),
    refLogprobs: tf.tensor2d(rows.ref),
    teacherLogprobs: tf.tensor2d(rows.ref),
    // Teacher-forced rows (VA-pi): the reference tokens' log-probs; a weight-0 row must leave them out too.
    forcedLogprobs: tf.tensor2d(rows.ref),
    entropy: tf.onesLike(logprobs),
    advantages: tf.tensor2d(rows.advantages),
    mask: tf.tensor2d(rows.mask),
    weights: tf.tensor1d(rows.weights),
    aggregation,
    normLength: T,
    rollouts: {
      ofRow: rows.weights.map((_, i) => i),
      group: rows.weights.map(() => 'q'),
      success: rows.advantages.map((a) => (a[0] as number) > 0),
      reward: rows.advantages.map((a) => a[0] as number),
    },
    rng: Rng.seeded(7),
  });
  const f = (x: tf.Tensor) => loss.loss(batchOf(x), tf).loss as tf.Scalar;
  const { value, grad } = tf.valueAndGrad(f)(tf.tensor2d(rows.logprobs));
  const gradient = (grad.arraySync() as number[][]).slice(0, keep).flat();
  return { value: value.dataSync()[0] as number, gradient };
}

const rowLosses = registry
  .list('losses')
  .map((entry) => entry.item)
  .filter((loss): loss is Loss => loss.kind === 'rows');

describe('every row loss aggregates through the one shared aggregation', () => {
  it('the catalog has row losses from several packages', () => {
    expect(rowLosses.length).toBeGreaterThan(15);
  });

  it.each(rowLosses.map((loss) => [loss.name, loss] as const))(
    '%s: a weight-0 row changes neither loss nor gradient',
    (_name, loss) => {
      fc.assert(
        fc.property(
          fc.array(row, { minLength: 2, maxLength: 4 }),
          row,
          fc.constantFrom(...AGGREGATIONS),
          (drawn, extra, aggregation) => {
            const base = lossAndGradient(
              loss,
              rowsOf(
                drawn,
                drawn.map(() => 1),
              ),
              aggregation,
              drawn.length,
            );
            const padded = lossAndGradient(
              loss,
              rowsOf([...drawn, extra], [...drawn.map(() => 1), 0]),
              aggregation,
              drawn.length,
            );
            expect(padded.value).toBeCloseTo(base.value, 4);
            padded.gradient.forEach((g, i) => expect(g).toBeCloseTo(base.gradient[i] as number, 4));
          },
        ),
        { numRuns: 15 },
      );
    },
  );
});

describe('plugin text', () => {
  // Any control character but the line feed of multi-line docs.
  const hasControl = (text: string) =>
    [...text].some((c) => {
      const code = c.charCodeAt(0);
      return (code < 32 && code !== 10) || code === 127;
    });
  const entries = PLUGIN_KINDS.flatMap((kind) =>
    registry.list(kind).map((entry) => [`${kind}/${entry.item.name}`, entry.item] as const),
  );

  it.each(entries)('%s has no control characters in its summary, formula or option docs', (_where, item) => {
    const texts = [
      item.summary,
      item.math ?? '',
      ...(item.unverified ?? []),
      ...Object.values(item.options ?? {}).map((option) => option.doc),
    ];
    for (const text of texts) expect(hasControl(text), JSON.stringify(text)).toBe(false);
  });
});
