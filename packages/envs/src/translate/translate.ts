/**
 * translate: translation with a dictionary tool, after the Spanish-Wayuunaiki paper
 * (arXiv 2508.19481). The policy may call `<lookup>word</lookup>` up to `maxLookups` times
 * (the tool answers with the first 5 matching entries) and then gives `<answer>...</answer>`.
 * Reward components: sentence BLEU as sacreBLEU computes it (13a, exp smoothing, effective
 * order; the paper's reward, weight 1) and chrF (weight 0, logged); both on a 0-1 scale.
 * Success: chrF >= 90.
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { sentenceBleu, sentenceChrf } from '@policy-lab/rewards';
import { drawSplit, isTestKey, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';
import { loadTranslationData } from './data.js';
import { buildDictionary, buildLexicon, type DictionaryEntry, drawSentence, MAX_LEXICON } from './language.js';
import { extractTranslation, formatMatches, lookup, lookupQuery } from './tool.js';

export interface TranslateTask {
  source: string;
  reference: string;
  /** Words the expert looks up, in order. */
  lookups: readonly string[];
  /** The seed of this task's own lexicon (option lexicon = 'per-task'). */
  lexiconSeed?: number;
}

export interface TranslateOptions {
  nouns?: number;
  adjectives?: number;
  verbs?: number;
  adjectiveRate?: number;
  objectRate?: number;
  maxLookups?: number;
  lexicon?: 'fixed' | 'per-task';
  successChrf?: number;
  data?: string;
}

const OPTION_SPECS = {
  nouns: { type: 'integer', default: 60, doc: `nouns in the synthetic lexicon, 1-${MAX_LEXICON.nouns} (difficulty)` },
  adjectives: { type: 'integer', default: 6, doc: `adjectives, 0-${MAX_LEXICON.adjectives} (difficulty)` },
  verbs: { type: 'integer', default: 20, doc: `verbs, 1-${MAX_LEXICON.verbs} (difficulty)` },
  adjectiveRate: { type: 'number', default: 0, doc: 'probability that a noun carries an adjective (sentence length)' },
  objectRate: { type: 'number', default: 0, doc: 'probability that a sentence has an object (sentence length)' },
  maxLookups: { type: 'integer', default: 4, doc: 'dictionary calls allowed before the answer (the paper: 4)' },
  lexicon: {
    type: 'enum',
    values: ['fixed', 'per-task'],
    default: 'fixed',
    doc: "'fixed': one synthetic language; 'per-task': every task draws its own target words, so only the dictionary can tell them (no memorising)",
  },
  successChrf: { type: 'number', default: 90, doc: 'chrF (0-100) at or above which an episode counts as a success' },
  data: {
    type: 'string',
    doc: 'a folder with your own dictionary.tsv (source<TAB>target) and corpus.tsv (source<TAB>reference) instead of the synthetic pair',
  },
} as const;

type Resolved = Required<Omit<TranslateOptions, 'data'>> & { data?: string };

const PROTOCOL_CHARS = '<>/:;';
const MAX_ACTION_CHARS = 4096;
const SYNTHETIC_ALPHABET = 'abcdefghijklmnopqrstuvwxyzáéíóúñü ';

function toReward(hypothesis: string, reference: string) {
  return {
    bleu: sentenceBleu(hypothesis, [reference]).score / 100,
    chrf: sentenceChrf(hypothesis, [reference]).score / 100,
  };
}

/** Words of a user's sentence worth looking up: those with a dictionary match, longest first, in sentence order. */
function expertLookups(source: string, dictionary: readonly DictionaryEntry[], max: number): string[] {
  const words = [...new Set(source.split(/\s+/).filter((w) => w.length > 0))];
  return words.filter((w) => lookup(dictionary, w).length > 0).slice(0, max);
}

/** A task's identity: its sentence, and its language when every task has its own. */
function taskKey(task: TranslateTask): string {
  return task.lexiconSeed === undefined ? task.source : `${task.source}#${task.lexiconSeed}`;
}

export function translate(options: TranslateOptions = {}): Environment<TranslateTask> {
  const o = resolveOptions<Resolved>('translate', OPTION_SPECS, options as Record<string, unknown>);
  const range = (key: 'nouns' | 'adjectives' | 'verbs', min: number) => {
    if (o[key] < min || o[key] > MAX_LEXICON[key])
      throw new UsageError(`translate: option '${key}' must be ${min}..${MAX_LEXICON[key]}, got ${o[key]}`);
  };
  range('nouns', 1);
  range('adjectives', 0);
  range('verbs', 1);
  for (const key of ['adjectiveRate', 'objectRate'] as const)
    if (!(o[key] >= 0 && o[key] <= 1)) throw new UsageError(`translate: option '${key}' must be in [0, 1], got ${o[key]}`);
  if (o.maxLookups < 0 || o.maxLookups > 8)
    throw new UsageError(`translate: option 'maxLookups' must be 0..8, got ${o.maxLookups}`);

  if (o.data !== undefined && o.lexicon === 'per-task')
    throw new UsageError("translate: option 'lexicon' = 'per-task' draws synthetic languages; it cannot be used with 'data'");
  const user = o.data === undefined ? undefined : loadTranslationData(o.data);
  const lexicon = buildLexicon({ nouns: o.nouns, adjectives: o.adjectives, verbs: o.verbs });
  const dictionary = user ? user.dictionary : buildDictionary(lexicon);
  // A task's own language (lexicon 'per-task'): the same Spanish words, new target words.
  const perTask = new Map<number, { lexicon: ReturnType<typeof buildLexicon>; dictionary: DictionaryEntry[] }>();
  const languageOf = (task: TranslateTask) => {
    if (task.lexiconSeed === undefined) return { lexicon, dictionary };
    let language = perTask.get(task.lexiconSeed);
    if (!language) {
      const own = buildLexicon({ nouns: o.nouns, adjectives: o.adjectives, verbs: o.verbs }, task.lexiconSeed);
      language = { lexicon: own, dictionary: buildDictionary(own) };
      perTask.set(task.lexiconSeed, language);
    }
    return language;
  };
  const alphabet = user
    ? [
        ...new Set([
          ...PROTOCOL_CHARS,
          ...'abcdefghijklmnopqrstuvwxyz ',
          ...dictionary.flatMap((e) => [...e.spa, ...e.guc]),
          ...user.corpus.flatMap((p) => [...p.source, ...p.reference]),
        ]),
      ].join('')
    : SYNTHETIC_ALPHABET + PROTOCOL_CHARS;
  const longest = user ? Math.max(...user.corpus.map((p) => p.reference.length)) : 60; // the synthetic grammar's longest reference is under 50 characters

  return {
    name: 'translate',
    summary:
      'Translation with a dictionary tool (<lookup>word</lookup>, then <answer>); components bleu (1.0) and chrf (0, logged)',
    paper: { title: 'Dictionary-augmented RL translation for Spanish-Wayuunaiki', arxiv: '2508.19481', year: 2025 },
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => translate({ ...o, ...next }),
    rewardComponents: [
      { name: 'bleu', weight: 1 },
      { name: 'chrf', weight: 0 },
    ],
    maxTurns: o.maxLookups + 1,
    // 1000 SFT steps: at 600 the policy still garbles the second lookup on unseen sentences.
    recommended: {
      dim: 64,
      layers: 2,
      heads: 4,
      contextLength: 512,
      maxNewTokens: Math.max(24, longest + 20),
      sftSteps: 1000,
    },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      if (user) {
        const pool = user.corpus.filter((p) => isTestKey(p.source) === (split === 'test'));
        const rng = SeededRng.seeded(seed).split(`translate/${split}`);
        return rng
          .shuffle(pool)
          .slice(0, count)
          .map((p) => ({ ...p, lookups: expertLookups(p.source, dictionary, o.maxLookups) }));
      }
      const rng = SeededRng.seeded(seed).split(`translate/${split}`);
      return drawSplit(
        split,
        count,
        () => {
          const lexiconSeed = o.lexicon === 'per-task' ? rng.int(0, 2 ** 30) : undefined;
          // Not cached: a pool of thousands of tasks would keep thousands of languages alive.
          const own =
            lexiconSeed === undefined
              ? lexicon
              : buildLexicon({ nouns: o.nouns, adjectives: o.adjectives, verbs: o.verbs }, lexiconSeed);
          const pair = drawSentence(own, o, rng);
          return {
            source: pair.source,
            reference: pair.reference,
            lookups: pair.contentWords.slice(0, o.maxLookups),
            ...(lexiconSeed === undefined ? {} : { lexiconSeed }),
          };
        },
        (t) => taskKey(t),
      );
    },
    taskId: (task) => taskKey(task),
    demonstrate: (task) => [...task.lookups.map((w) => `<lookup>${w}</lookup>`), `<answer>${task.reference}</answer>`],
    alphabet: () => alphabet,
    start(task, _rng: Rng): Episode {
      let lookups = 0;
      let turns = 0;
      let observation = `translate: ${task.source}`;
      let final: { bleu: number; chrf: number } | undefined;
      const zero = { bleu: 0, chrf: 0 };
      return {
        observation: () => observation,
        step(action) {
          if (final !== undefined || turns >= o.maxLookups + 1)
            throw new Error('translate: step() called after the episode ended');
          turns++;
          const lastTurn = turns >= o.maxLookups + 1;
          // Far beyond any answer a policy generates; longer actions are invalid, unparsed and unscored.
          const tooLong = action.length > MAX_ACTION_CHARS;
          const query = tooLong || action.includes('<answer>') ? undefined : lookupQuery(action);
          if (query !== undefined && lookups < o.maxLookups && !lastTurn) {
            lookups++;
            observation = formatMatches(lookup(languageOf(task).dictionary, query));
            return { reward: zero, done: false, valid: true, stateKey: `lookups${lookups}`, info: { query } };
          }
          const answer = !tooLong && action.includes('<answer>') ? extractTranslation(action) : undefined;
          if (answer !== undefined || lastTurn) {
            final = toReward(answer ?? '', task.reference);
            return { reward: final, done: true, valid: answer !== undefined, stateKey: `lookups${lookups}`, info: { answer } };
          }
          observation =
            query !== undefined
              ? 'no lookups left: give <answer>...</answer>'
              : tooLong
                ? 'invalid: action too long'
                : 'invalid: use <lookup>word</lookup> or <answer>text</answer>';
          return { reward: zero, done: false, valid: false, stateKey: `lookups${lookups}` };
        },
        outcome() {
          const reward = final ?? zero;
          return { reward, success: reward.chrf * 100 >= o.successChrf - 1e-9 };
        },
        // Tree search restarts from any turn: the episode's whole state is these four values.
        snapshot: () => ({ lookups, turns, observation, final }),
        restore(state) {
          ({ lookups, turns, observation, final } = state as {
            lookups: number;
            turns: number;
            observation: string;
            final?: { bleu: number; chrf: number };
          });
        },
      };
    },
  };
}
