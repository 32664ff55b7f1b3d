/**
 * next-segment: RLPT's next-segment reasoning task (Reinforcement Learning on Pre-Training
 * data, arXiv 2509.19249) in miniature. A task is a position in a text corpus: the policy reads
 * the segments before it and writes the next segment (RLPT's ASR task), or reads the segments
 * before and the one after a gap and writes the segment in the gap (its MSR task); a segment
 * matcher scores the prediction against the true segment. RLPT's judge is a generative reward model giving 1 for a
 * semantically consistent segment; here it is lexical: token F1 at or above `threshold`.
 * Components: `match` (1.0, the binary reward), `f1` and `chrf` (0, logged).
 */
import { type Environment, type Episode, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { sentenceChrf } from '@policy-lab/rewards';
import { isTestKey, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';
import { type Document, loadUserText, syntheticCorpus, syntheticSentences } from './corpus.js';
import { tokenF1 } from './match.js';

export interface NextSegmentTask {
  /** The segments before the target, joined by spaces (what the policy reads). */
  prefix: string;
  /** The true next segment. */
  segment: string;
  /** A middle-segment task only: the segment after the gap, which the policy also reads. */
  suffix?: string;
}

/** Which of RLPT's two tasks the environment poses. */
export type SegmentTaskKind = 'next' | 'middle' | 'both';

export interface NextSegmentOptions {
  documents?: number;
  corpusSeed?: number;
  context?: number;
  threshold?: number;
  maxSegmentChars?: number;
  task?: SegmentTaskKind;
  data?: string;
}

const OPTION_SPECS = {
  documents: { type: 'integer', default: 4000, doc: 'documents in the synthetic corpus (7 sentences each)' },
  corpusSeed: { type: 'integer', default: 0, doc: 'seed of the synthetic corpus (fixed: the same text in every run)' },
  context: { type: 'integer', default: 6, doc: 'segments of the document before the target that the policy reads, 1-20' },
  threshold: { type: 'number', default: 0.7, doc: 'token F1 at or above which a prediction earns the reward, in (0, 1]' },
  maxSegmentChars: {
    type: 'integer',
    default: 120,
    doc: 'longer target segments are not tasks (a small policy writes short segments), 8-2000',
  },
  task: {
    type: 'enum',
    values: ['next', 'middle', 'both'],
    default: 'next',
    doc: "RLPT's tasks: next (ASR: the segment after the prefix), middle (MSR: the segment between the prefix and the following one, shown after a '|'), or both (every task of each kind)",
  },
  data: {
    type: 'string',
    doc: 'your own text: a file, or a folder with corpus.txt (blank lines separate documents; sentences are the segments)',
  },
} as const;

type Resolved = Required<Omit<NextSegmentOptions, 'data'>> & { data?: string };

/** Far beyond any segment a policy writes; a longer action is invalid and unscored. */
const MAX_ACTION_CHARS = 4096;
const SYNTHETIC_ALPHABET = 'abcdefghijklmnopqrstuvwxyz .';
/** Marks the gap of a middle-segment task: the policy reads `prefix | suffix`. */
const GAP_MARK = '|';

const taskKey = (task: NextSegmentTask) =>
  task.suffix === undefined ? `${task.prefix}\n${task.segment}` : `${task.prefix}\n${task.segment}\n${task.suffix}`;

const observationOf = (task: NextSegmentTask) =>
  task.suffix === undefined ? task.prefix : `${task.prefix} ${GAP_MARK} ${task.suffix}`;

/**
 * Every position after a document's first segment (a middle task also needs one after it),
 * deduplicated. The split hashes the (prefix, segment) pair for both kinds, so a segment that is
 * a test answer after its prefix is never a training answer after the same prefix as a middle task.
 */
function allTasks(documents: readonly Document[], o: Resolved): { train: NextSegmentTask[]; test: NextSegmentTask[] } {
  const seen = new Set<string>();
  const out = { train: [] as NextSegmentTask[], test: [] as NextSegmentTask[] };
  const add = (task: NextSegmentTask) => {
    const key = taskKey(task);
    if (seen.has(key)) return;
    seen.add(key);
    (isTestKey(taskKey({ prefix: task.prefix, segment: task.segment })) ? out.test : out.train).push(task);
  };
  for (const document of documents) {
    for (let i = 1; i < document.length; i++) {
      const segment = document[i] as string;
      if (segment.length > o.maxSegmentChars) continue;
      const prefix = document.slice(Math.max(0, i - o.context), i).join(' ');
      if (o.task !== 'middle') add({ prefix, segment });
      const suffix = document[i + 1];
      if (o.task !== 'next' && suffix !== undefined && suffix.length <= o.maxSegmentChars) add({ prefix, segment, suffix });
    }
  }
  return out;
}

function reward(prediction: string | undefined, task: NextSegmentTask, threshold: number) {
  if (prediction === undefined) return { match: 0, f1: 0, chrf: 0 };
  const f1 = tokenF1(prediction, task.segment);
  return {
    match: f1 >= threshold - 1e-9 ? 1 : 0,
    f1,
    chrf: sentenceChrf(prediction.trim(), [task.segment]).score / 100,
  };
}

export function nextSegment(options: NextSegmentOptions = {}): Environment<NextSegmentTask> {
  const o = resolveOptions<Resolved>('next-segment', OPTION_SPECS, options as Record<string, unknown>);
  if (o.documents < 1 || o.documents > 100_000)
    throw new UsageError(`next-segment: option 'documents' must be 1..100000, got ${o.documents}`);
  if (o.context < 1 || o.context > 20) throw new UsageError(`next-segment: option 'context' must be 1..20, got ${o.context}`);
  if (!(o.threshold > 0 && o.threshold <= 1))
    throw new UsageError(`next-segment: option 'threshold' must be in (0, 1], got ${o.threshold}`);
  if (o.maxSegmentChars < 8 || o.maxSegmentChars > 2000)
    throw new UsageError(`next-segment: option 'maxSegmentChars' must be 8..2000, got ${o.maxSegmentChars}`);

  const user = o.data === undefined ? undefined : loadUserText(o.data);
  // The synthetic corpus is built on first use: the plugin constructs every environment at import.
  let built: { train: NextSegmentTask[]; test: NextSegmentTask[] } | undefined;
  const splits = () => {
    built ??= allTasks(user ? user.documents : syntheticCorpus(o.documents, o.corpusSeed), o);
    return built;
  };
  if (user && (splits().test.length === 0 || splits().train.length === 0))
    throw new UsageError(
      `next-segment: ${user.file} gives ${splits().test.length} test and ${splits().train.length} training segments (a segment of at most ${o.maxSegmentChars} characters after another, about 1 in 5 a test one); both splits need one`,
    );
  const segments = user ? user.documents.flat() : syntheticSentences();
  const longestSegment = Math.min(o.maxSegmentChars, Math.max(...segments.map((s) => s.length)));
  // A middle task's observation is the prefix, the gap mark and one more segment.
  const readSegments = o.context + (o.task === 'next' ? 0 : 1);
  const longestObservation = Math.min(
    readSegments * (Math.max(...segments.map((s) => s.length)) + 1) + (o.task === 'next' ? 0 : 2),
    user ? Math.max(...[...splits().train, ...splits().test].map((t) => observationOf(t).length)) : Number.POSITIVE_INFINITY,
  );
  const textAlphabet = user ? [...new Set([...segments.join(' ')])].join('') : SYNTHETIC_ALPHABET;
  // The gap mark joins the alphabet only when middle tasks are posed: plain runs keep their vocabulary.
  const alphabet = o.task === 'next' || textAlphabet.includes(GAP_MARK) ? textAlphabet : textAlphabet + GAP_MARK;

  return {
    name: 'next-segment',
    summary:
      'Predict the next sentence of a corpus from the ones before it, or a missing middle one (RLPT); components match (1.0: token F1 >= threshold), f1 and chrf (0, logged)',
    paper: { title: 'Reinforcement Learning on Pre-Training Data (RLPT)', arxiv: '2509.19249', year: 2025 },
    unverified: [
      "RLPT's judge is a generative reward model; token F1 at a threshold stands in for it",
      "the ASR/MSR mix: 'both' poses every task of each kind (about as many of each); the paper's ratio was not found",
      'no reasoning section before the answer: the policy writes the segment directly',
    ],
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => nextSegment({ ...o, ...next }),
    rewardComponents: [
      { name: 'match', weight: 1 },
      { name: 'f1', weight: 0 },
      { name: 'chrf', weight: 0 },
    ],
    maxTurns: 1,
    recommended: {
      dim: 64,
      layers: 2,
      heads: 4,
      contextLength: longestObservation + longestSegment + 16,
      maxNewTokens: longestSegment + 8,
      // 150 steps: 0% sampled success (greedy 6.3%); the policy has to copy the animal's name from the prefix.
      sftSteps: 400,
    },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      const pool = split === 'test' ? splits().test : splits().train;
      return SeededRng.seeded(seed)
        .split(`next-segment/${split}`)
        .shuffle([...pool])
        .slice(0, count);
    },
    taskId: taskKey,
    demonstrate: (task) => [task.segment],
    alphabet: () => alphabet,
    start(task): Episode {
      let prediction: string | undefined;
      let done = false;
      return {
        observation: () => observationOf(task),
        step(action) {
          if (done) throw new Error('next-segment: step() called after the episode ended');
          done = true;
          prediction = action.length > MAX_ACTION_CHARS ? undefined : action;
          const r = reward(prediction, task, o.threshold);
          return { reward: r, done: true, valid: prediction !== undefined && prediction.trim() !== '' };
        },
        outcome() {
          const r = reward(prediction, task, o.threshold);
          return { reward: r, success: r.match === 1 };
        },
      };
    },
  };
}
