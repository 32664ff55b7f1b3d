import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@policy-lab/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildDictionary, buildLexicon, MAX_LEXICON } from './language.js';
import { extractTranslation, formatMatches, lookup, lookupQuery } from './tool.js';
import { type TranslateTask, translate } from './translate.js';

function play(env: ReturnType<typeof translate>, task: TranslateTask, actions: readonly string[]) {
  const episode = env.start(task, Rng.seeded(0));
  const transcript: string[] = [episode.observation()];
  for (const action of actions) {
    const result = episode.step(action);
    transcript.push(action, result.done ? JSON.stringify(result.reward) : episode.observation());
    if (result.done) break;
  }
  return { transcript, outcome: episode.outcome() };
}

describe('dictionary tool', () => {
  const dictionary = [
    { spa: 'casa', guc: 'piichi' },
    { spa: 'casa grande', guc: 'miyo piichi' },
    { spa: 'casado', guc: 'kasaja' },
    { spa: 'la casa del niño', guc: 'x' },
    { spa: 'niño', guc: 'jintut' },
    { spa: 'mi casa', guc: 'tapiichi' },
    { spa: 'tu casa', guc: 'pupiichi' },
    { spa: 'su casa', guc: 'supiichi' },
  ];

  it('matches whole words case-insensitively, in order, at most 5', () => {
    expect(lookup(dictionary, 'CASA').map((e) => e.spa)).toEqual([
      'casa',
      'casa grande',
      'la casa del niño',
      'mi casa',
      'tu casa',
    ]);
    expect(lookup(dictionary, 'niño').map((e) => e.spa)).toEqual(['la casa del niño', 'niño']); // Unicode word boundary
    expect(lookup(dictionary, 'niñ')).toEqual([]);
    expect(lookup(dictionary, 'cas')).toEqual([]);
    expect(lookup(dictionary, '(')).toEqual([]); // regex characters are escaped
    expect(formatMatches(lookup(dictionary, 'casado'))).toBe('<matches> casado: kasaja </matches>');
    expect(formatMatches([])).toBe('<matches> No matches found </matches>');
  });

  it('extracts the query and the first answer block followed only by whitespace to a line end', () => {
    expect(lookupQuery('I will check <lookup> perro </lookup>')).toBe('perro');
    expect(lookupQuery('no tool')).toBeUndefined();
    expect(extractTranslation('<answer> pura ekaa </answer>')).toBe('pura ekaa');
    expect(extractTranslation('<answer>a</answer> trailing')).toBeUndefined();
    // with DOTALL the lazy group may span lines, so the first block reaches the last closing tag (as in Python)
    expect(extractTranslation('<answer>a</answer> x\n<answer>b</answer>  ')).toBe('a</answer> x\n<answer>b');
    expect(extractTranslation('<answer>a</answer>\nmore text')).toBe('a');
  });
});

describe('dictionary tool on long and adversarial input', () => {
  const dictionary = buildDictionary(buildLexicon({ nouns: 20, adjectives: 6, verbs: 10 }));
  // The paper's expressions, kept here as the specification the linear-time parsers must match.
  const answerRegex = (text: string) => /<answer>([\s\S]*?)<\/answer>\s*$/m.exec(text)?.[1]?.trim();
  const lookupRegex = (text: string) => /<lookup>([\s\S]*?)<\/lookup>/.exec(text)?.[1]?.trim();
  const markup = fc.string({
    unit: fc.constantFrom('<answer>', '</answer>', '<lookup>', '</lookup>', ' ', '\n', '\r', '\t', 'x', 'casa', '<', '/'),
    maxLength: 30,
  });

  it('looks up a 12,280-character query without throwing (no match)', () => {
    expect(lookup(dictionary, 'a'.repeat(12_280))).toEqual([]);
    expect(lookup(dictionary, 'a b '.repeat(4000))).toEqual([]);
  });

  it('parses like the paper expressions on every short input (fast-check)', () => {
    fc.assert(
      fc.property(markup, (text) => {
        expect(extractTranslation(text)).toEqual(answerRegex(text));
        expect(lookupQuery(text)).toEqual(lookupRegex(text));
      }),
      { numRuns: 3000, seed: 3 },
    );
  });

  it('parses 160,000 characters in linear time', () => {
    for (const text of [
      `<answer>${'<answer>x</answer>x'.repeat(9000)}`,
      `${'<lookup>'.repeat(20_000)}`,
      `<answer>${' '.repeat(160_000)}x`,
    ]) {
      const started = performance.now();
      extractTranslation(text);
      lookupQuery(text);
      expect(performance.now() - started).toBeLessThan(50);
    }
  });
});

describe('synthetic language', () => {
  it('has distinct target words, none ending in the object suffix, and a sorted dictionary', () => {
    const lexicon = buildLexicon(MAX_LEXICON);
    const words = [...lexicon.nouns, ...lexicon.adjectives, ...lexicon.verbs].map((w) => w.guc);
    expect(new Set(words).size).toBe(words.length);
    for (const w of words) expect(w.endsWith('ka')).toBe(false);
    expect(buildLexicon(MAX_LEXICON)).toEqual(lexicon); // fixed by construction
    const dictionary = buildDictionary(lexicon);
    expect(dictionary.map((e) => e.spa)).toEqual([...dictionary.map((e) => e.spa)].sort());
  });
});

describe('translate environment', () => {
  const env = translate();
  const test = env.tasks('test', { seed: 1, count: 40 });

  it('lets the expert (lookups, then the reference) succeed on every test task; a guess does not', () => {
    expect(test.length).toBe(40);
    for (const task of test) {
      const { outcome } = play(env, task, env.demonstrate?.(task) ?? []);
      expect(outcome.success).toBe(true);
      expect(outcome.reward.bleu).toBeCloseTo(1, 12);
      expect(outcome.reward.chrf).toBeCloseTo(1, 12);
      const guess = play(env, task, ['<answer>pura</answer>']);
      expect(guess.outcome.success).toBe(false);
      expect(guess.outcome.reward.bleu).toBeLessThan(1);
    }
  });

  it('answers lookups with the dictionary and limits them', () => {
    const task = test.find((t) => t.lookups.length >= 2) as TranslateTask;
    const first = task.lookups[0] as string;
    const { transcript } = play(env, task, [`<lookup>${first}</lookup>`]);
    expect(transcript[2]).toMatch(new RegExp(`^<matches> .*${first}: `));
    const many = play(
      env,
      task,
      Array.from({ length: 6 }, () => `<lookup>${first}</lookup>`),
    );
    // four lookups, then the fifth turn is the last: no answer means reward 0
    expect(many.transcript.filter((line) => line.startsWith('<matches>'))).toHaveLength(4);
    expect(many.outcome).toEqual({ reward: { bleu: 0, chrf: 0 }, success: false });
  });

  it('defaults to subject-verb sentences over the whole lexicon, with enough test sentences for an evaluation', () => {
    // The measured SFT start (README) depends on these defaults.
    const all = env.tasks('test', { seed: 1, count: 1000 });
    expect(all.length).toBeGreaterThanOrEqual(200); // enough test tasks to conclude from
    expect(all.length).toBeLessThan(300); // about a fifth of 60 x 20 sentences
    for (const task of all) {
      expect(task.source.split(' ')).toHaveLength(3);
      expect(task.reference.split(' ')).toHaveLength(2);
      expect(task.lookups).toHaveLength(2);
    }
    expect(env.recommended?.sftSteps).toBe(1000);
  });

  it('gives the same tasks and transcripts for the same seed; disjoint splits', () => {
    expect(translate().tasks('test', { seed: 1, count: 40 })).toEqual(test);
    const ids = new Set(env.tasks('train', { seed: 1, count: 300 }).map(env.taskId));
    for (const task of test) expect(ids.has(env.taskId(task))).toBe(false);
  });

  it('never throws on arbitrary actions; invalid ones are reported and the episode goes on', () => {
    const task = test[0] as TranslateTask;
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 6 }), (actions) => {
        const episode = env.start(task, Rng.seeded(0));
        for (const action of actions) {
          const result = episode.step(action);
          const known = action.includes('<answer>') || action.includes('<lookup>');
          if (!known && !result.done) expect(result.valid).toBe(false);
          for (const v of Object.values(result.reward)) expect(v >= 0 && v <= 1).toBe(true);
          if (result.done) break;
        }
        const { reward } = episode.outcome();
        expect(Number.isFinite(reward.bleu) && Number.isFinite(reward.chrf)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it('keeps text inside the alphabet and answers inside the token limit', () => {
    const alphabet = new Set(env.alphabet?.());
    for (const task of env.tasks('train', { seed: 3, count: 60 })) {
      const { transcript } = play(env, task, env.demonstrate?.(task) ?? []);
      for (const line of transcript.slice(0, -1)) for (const ch of line) expect(alphabet.has(ch), ch).toBe(true);
      expect(`<answer>${task.reference}</answer>`.length).toBeLessThanOrEqual(env.recommended?.maxNewTokens ?? 0);
    }
  });

  it("lexicon 'per-task': each task has its own target words, told only by its dictionary; the expert still succeeds", () => {
    const env = translate({ lexicon: 'per-task', nouns: 20, verbs: 10, adjectiveRate: 0, objectRate: 0 });
    const train = env.tasks('train', { seed: 1, count: 40 });
    const test = env.tasks('test', { seed: 0, count: 20 });
    for (const task of test) expect(play(env, task, env.demonstrate?.(task) ?? []).outcome.success).toBe(true);
    // The same Spanish sentence in two tasks translates differently: memorising sentences cannot work.
    const bySource = new Map<string, Set<string>>();
    for (const task of [...train, ...test])
      bySource.set(task.source, (bySource.get(task.source) ?? new Set()).add(task.reference));
    expect([...bySource.values()].some((references) => references.size > 1)).toBe(true);
    const trainIds = new Set(train.map((t) => env.taskId(t)));
    for (const task of test) expect(trainIds.has(env.taskId(task))).toBe(false);
    const first = train[0] as TranslateTask;
    const noun = first.lookups[0] as string;
    const answer = play(env, first, [`<lookup>${noun}</lookup>`]).transcript[2] as string;
    expect(answer).toContain(first.reference.split(' ')[0] as string);
    expect(() => translate({ lexicon: 'per-task', data: '/nowhere' })).toThrow(/cannot be used with 'data'/);
  });

  it('loads a user pair from --data, naming the line of a malformed record', () => {
    const dir = mkdtempSync(join(tmpdir(), 'translate-'));
    writeFileSync(join(dir, 'dictionary.tsv'), 'spa\tguc\nperro\tërü\ncasa\tpiichi\n');
    const pairs = Array.from({ length: 30 }, (_, i) => `el perro ${i}\tërü ${i}`);
    writeFileSync(join(dir, 'corpus.tsv'), `${pairs.join('\n')}\n`);
    const mine = translate({ data: dir });
    const tasks = [...mine.tasks('train', { seed: 1 }), ...mine.tasks('test', { seed: 1 })];
    expect(tasks).toHaveLength(30);
    const task = tasks[0] as TranslateTask;
    expect(task.lookups).toEqual(['perro']);
    expect(play(mine, task, mine.demonstrate?.(task) ?? []).outcome.success).toBe(true);
    writeFileSync(join(dir, 'corpus.tsv'), 'el perro\tërü\nla casa piichi\n');
    expect(() => translate({ data: dir })).toThrow(/corpus\.tsv:2: expected 2 tab-separated fields, got 1/);
    expect(() => translate({ data: join(dir, 'missing') })).toThrow(/cannot read .*dictionary\.tsv/);
    expect(() => translate({ nouns: 99 })).toThrow(/nouns.*1\.\.60.*99/);
  });

  it('refuses a --data corpus that leaves a split empty, naming the file and the counts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'translate-'));
    writeFileSync(join(dir, 'dictionary.tsv'), 'perro\tërü\n');
    writeFileSync(join(dir, 'corpus.tsv'), 'el perro\tërü\n');
    expect(() => translate({ data: dir })).toThrow(/corpus\.tsv: 1 sentence pairs give 1 test and 0 training sentences/);
  });
});
