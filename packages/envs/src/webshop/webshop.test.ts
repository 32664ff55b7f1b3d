import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { priceUpper } from './catalog.js';
import { optionReward, type WebshopGoal, type WebshopProduct, webshopReward } from './reward.js';
import { parseWebshopAction, webshop } from './webshop.js';

// WebShop's own test_goal.py cases, rebuilt with its field names.
const goal: WebshopGoal = {
  attributes: ['tea tree', 'essential oil', 'natural ingredients'],
  goal_options: { color: 'grey', size: 'XL' },
  price_upper: 40,
  query: 'shampoo',
  product_category: 'beauty › hair care › shampoo',
  name: 'tea tree shampoo bottle',
};
const product: WebshopProduct = {
  Title: 'tea tree shampoo bottle',
  BulletPoints: ['cleans hair'],
  Description: 'a shampoo',
  Attributes: ['tea tree', 'essential oil', 'natural ingredients'],
  query: 'shampoo',
  product_category: 'beauty › hair care › shampoo',
  name: 'tea tree shampoo bottle',
};

// Cases 2-4: no mined attributes, bullets given as a string (never matched), one attribute in the description.
const p2: WebshopProduct = {
  ...product,
  Title: 'shampoo bottle',
  Attributes: [],
  BulletPoints: 'tea tree essential oil',
  Description: 'made with natural ingredients',
};

describe('webshopReward reproduces WebShop test_goal.py', () => {
  it('1: everything matches -> 1.0', () => {
    expect(webshopReward({ goal, product, selectedOptions: { color: 'grey', size: 'XL' }, price: 35 })).toEqual({
      total: 1,
      attribute: 1,
      option: 1,
      price: 1,
      type: 1,
    });
  });

  it('2: no mined attributes, bullets as a string, one attribute in the description -> (1+2+1)/6', () => {
    const r = webshopReward({ goal, product: p2, selectedOptions: ['grey', 'XL'], price: 35 });
    expect(r.total).toBeCloseTo(4 / 6, 4);
    expect(r.attribute).toBeCloseTo(1 / 3, 12);
  });

  it('3: a third goal option not selected -> (1+2+1)/7; 4: another type -> x 0.5', () => {
    const g3 = { ...goal, goal_options: { color: 'grey', size: 'XL', amount: 'pack of 12' } };
    const r3 = webshopReward({ goal: g3, product: p2, selectedOptions: ['grey', 'XL'], price: 35 });
    expect(r3.total).toBeCloseTo(4 / 7, 4);
    expect(r3.option).toBeCloseTo(2 / 3, 12);
    // names share 1 of 7 goal nouns (0.14), the queries differ, the categories share one element
    const g4 = {
      ...g3,
      name: 'tea tree shampoo refill jug gallon salon kit',
      query: 'hair wash',
      product_category: 'beauty › bath',
    };
    const p4 = { ...p2, name: 'shampoo', query: 'shampoo', product_category: 'beauty › hair care' };
    const r4 = webshopReward({ goal: g4, product: p4, selectedOptions: ['grey', 'XL'], price: 35 });
    expect(r4.type).toBe(0.5);
    expect(r4.total).toBeCloseTo(0.2857, 4);
  });

  it('scores options as get_option_reward does', () => {
    expect(optionReward(['pack of 12', 'powder snow', 'XL'], ['cool powder snow', 'XL', 'pack of 12'])).toEqual({
      rOption: 1,
      matches: 3,
    });
    expect(optionReward(['XL'], [])).toEqual({ rOption: null, matches: 0 });
    expect(optionReward([], ['XL'])).toEqual({ rOption: 0, matches: 0 });
  });

  it('prices over the cap lose the price term; the cap follows WebShop rule', () => {
    const r = webshopReward({ goal, product, selectedOptions: { color: 'grey', size: 'XL' }, price: 45 });
    expect(r.price).toBe(0);
    expect(r.total).toBeCloseTo(5 / 6, 12);
    const rng = Rng.seeded(1);
    for (let k = 0; k < 50; k++) {
      const cap = priceUpper(35, rng);
      expect([50, 60, 70]).toContain(cap); // 2 of {40, 50, 60, 70}, the larger
    }
    expect(priceUpper(985, rng)).toBe(1e6);
  });
});

describe('webshop environment', () => {
  const env = webshop();
  const test = env.tasks('test', { seed: 1, count: 30 });

  it('lets the expert buy the right product with the right options on every test task; random clicks fail', () => {
    expect(test.length).toBe(30);
    const rng = Rng.seeded(2);
    let random = 0;
    for (const task of test) {
      const episode = env.start(task, rng);
      for (const action of env.demonstrate?.(task) ?? []) {
        const result = episode.step(action);
        expect(result.valid, action).toBe(true);
      }
      expect(episode.outcome().success).toBe(true);
      const guess = env.start(task, rng);
      for (let k = 0; k < 15; k++) {
        const r = guess.step(
          rng.pick(['search[shirt]', 'click[buy now]', 'click[next >]', `click[${rng.pick(['b0', 'x'])}]`, 'click[< prev]']),
        );
        if (r.done) break;
      }
      if (guess.outcome().success) random++;
    }
    expect(random).toBeLessThan(3);
  });

  it('renders pages joined with [SEP], reports invalid actions as no-ops, and ends at 15 steps', () => {
    const task = test[0] as (typeof test)[number];
    const episode = env.start(task, Rng.seeded(0));
    expect(episode.observation()).toBe(`WebShop [SEP] Instruction: [SEP] ${task.goal.instruction} [SEP] Search`);
    expect(episode.step('click[buy now]').valid).toBe(false);
    expect(episode.step('search[lotion]').valid).toBe(true);
    expect(episode.observation()).toMatch(/^Back to Search \[SEP\] Page 1 \(Total results: \d+\) \[SEP\] Next > \[SEP\] B0/);
    let last = episode.step('nonsense');
    for (let k = 3; k < 15; k++) last = episode.step('click[description]');
    expect(last.done).toBe(true);
    expect(episode.outcome()).toEqual({ reward: { score: 0, attribute: 0, option: 0, price: 0, type: 0 }, success: false });
  });

  it('never throws on arbitrary actions (fast-check)', () => {
    const task = test[1] as (typeof test)[number];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('click[next >]', 'click[< prev]', 'search[tea]', 'click[buy now]')), {
          maxLength: 15,
        }),
        (actions) => {
          const episode = env.start(task, Rng.seeded(0));
          for (const action of actions) {
            const r = episode.step(action);
            expect(r.valid).toBe(r.valid && parseWebshopAction(action) !== undefined);
            if (r.done) break;
          }
          expect(Number.isFinite(episode.outcome().reward.score)).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('gives the same tasks for the same seed, disjoint splits, text inside the alphabet', () => {
    expect(webshop().tasks('test', { seed: 1, count: 30 })).toEqual(test);
    const ids = new Set(env.tasks('train', { seed: 1, count: 200 }).map(env.taskId));
    for (const task of test) expect(ids.has(env.taskId(task))).toBe(false);
    const alphabet = new Set(env.alphabet?.());
    for (const task of test.slice(0, 5)) {
      const episode = env.start(task, Rng.seeded(0));
      for (const action of env.demonstrate?.(task) ?? []) {
        for (const ch of episode.observation() + action) expect(alphabet.has(ch), ch).toBe(true);
        episode.step(action);
      }
    }
    expect(() => webshop({ optionGroups: 3 })).toThrow(/optionGroups' must be 0\.\.2, got 3/);
  });
});
