/**
 * long-doc-reader: plan before perceiving, on a document too long to read whole. The text
 * analogue of EVA's long video (Efficient RL for an End-to-End Video Agent, arXiv 2603.22918):
 * the agent first sees only the question and the document's length, then chooses what to look
 * at, where and how finely, and pays for everything it looks at.
 *
 * A document is `sections` numbered sections, each holding one key (a letter, each key once) and
 * its value (two digits). The question asks the value of one key. Actions, one per turn:
 *   skim a b    the keys of sections a..b: `3k 4m` (coarse: 1 unit per section)
 *   read a b    keys and values of sections a..b: `3k=47 4m=05` (fine: 4 units per section);
 *               `read a` reads one section
 *   answer vv   ends the episode; right when vv is the asked key's value
 * EVA's tool call (start, end, nframes, resize) becomes a section range and a granularity; its
 * visual-token count becomes the units viewed. Reward: `correct` (1) and `view` = -penalty x
 * units / (4 x sections), so reading the whole document finely costs `penalty`; `viewed` (weight
 * 0) logs the units. With `cost: 'gated'` only a right answer pays (at most `penalty`). The expert skims everything, reads the one section and answers.
 */
import { type Environment, type Episode, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { drawSplit, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from '../shared/split.js';

export interface LongDocTask {
  /** The key of each section, in order. */
  keys: string;
  /** The two-digit value of each section, in order. */
  values: string[];
  /** The key asked about. */
  question: string;
}

export interface LongDocOptions {
  /** Sections in a document (2..10). */
  sections?: number;
  /** What reading the whole document finely costs in reward (the view component). */
  penalty?: number;
  /** Turns before the episode ends unanswered. */
  maxTurns?: number;
  /** 'additive': every unit viewed costs reward; 'gated': only a right answer pays for what was viewed. */
  cost?: 'additive' | 'gated';
}

const OPTION_SPECS = {
  sections: { type: 'integer', default: 8, doc: 'sections in a document (2..10); each holds one key and its two-digit value' },
  penalty: {
    type: 'number',
    default: 0.5,
    doc: 'view reward = -penalty x units viewed / (4 x sections): reading everything finely costs this much',
  },
  maxTurns: { type: 'integer', default: 4, doc: 'turns before an unanswered episode ends (the expert needs 3)' },
  cost: {
    type: 'enum',
    values: ['additive', 'gated'],
    default: 'additive',
    doc: "'additive': each unit viewed costs reward when viewed; 'gated': a right answer pays for everything viewed (at most the penalty), a wrong one pays nothing, so viewing nothing is never better than answering right",
  },
} as const;

/** Keys: letters that never start an action word. */
const KEYS = 'bcdfghjklmpqtvxz';
export const SKIM_UNITS = 1;
export const READ_UNITS = 4;

/** A parsed action, or undefined when malformed. */
export type LongDocAction = { kind: 'skim' | 'read'; from: number; to: number } | { kind: 'answer'; value: string };

export function parseLongDocAction(action: string, sections: number): LongDocAction | undefined {
  const text = action.trim();
  if (text.length > 40) return undefined;
  const answer = /^answer (\d{2})$/.exec(text);
  if (answer) return { kind: 'answer', value: answer[1] as string };
  const range = /^(skim|read) (\d)(?: (\d))?$/.exec(text);
  if (!range) return undefined;
  const from = Number(range[2]);
  const to = range[3] === undefined ? from : Number(range[3]);
  if (from > to || to >= sections) return undefined;
  return { kind: range[1] as 'skim' | 'read', from, to };
}

function question(task: LongDocTask): string {
  return `doc ${task.keys.length} find ${task.question}`;
}

function view(task: LongDocTask, action: { kind: 'skim' | 'read'; from: number; to: number }): string {
  const parts: string[] = [];
  for (let i = action.from; i <= action.to; i++)
    parts.push(action.kind === 'skim' ? `${i}${task.keys[i]}` : `${i}${task.keys[i]}=${task.values[i]}`);
  return parts.join(' ');
}

const taskKey = (task: LongDocTask) => `${task.keys}|${task.values.join('')}|${task.question}`;

export function longDocReader(options: LongDocOptions = {}): Environment<LongDocTask> {
  const o = resolveOptions<Required<LongDocOptions>>('long-doc-reader', OPTION_SPECS, options as Record<string, unknown>);
  if (o.sections < 2 || o.sections > 10)
    throw new UsageError(`long-doc-reader: option 'sections' must be 2..10, got ${o.sections}`);
  if (!(o.penalty >= 0)) throw new UsageError(`long-doc-reader: option 'penalty' must be >= 0, got ${o.penalty}`);
  if (o.maxTurns < 1) throw new UsageError(`long-doc-reader: option 'maxTurns' must be >= 1, got ${o.maxTurns}`);
  const fullCost = READ_UNITS * o.sections;
  return {
    name: 'long-doc-reader',
    summary:
      'plan before perceiving (EVA, as text): find a key’s value in a long document by skimming and reading chosen sections, each unit viewed costing reward',
    paper: { title: 'EVA: Efficient Reinforcement Learning for End-to-End Video Agent', arxiv: '2603.22918', year: 2026 },
    unverified: [
      'adaptation: analogue. A video becomes a document of keyed sections, frames and their resolution become section ranges read coarsely (keys) or finely (keys and values), and visual tokens become units viewed; the question-driven, budgeted perception carries over, the visual encoder does not.',
      'The view penalty (0.5 for reading everything finely) and the unit costs (1 to skim, 4 to read a section) are ours.',
    ],
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => longDocReader({ ...o, ...next }),
    rewardComponents: [
      { name: 'correct', weight: 1 },
      { name: 'view', weight: 1 },
      { name: 'viewed', weight: 0 },
    ],
    maxTurns: o.maxTurns,
    recommended: { dim: 64, layers: 2, heads: 4, contextLength: 96, maxNewTokens: 10, sftSteps: 500 },
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : TRAIN_POOL_SIZE }) {
      const rng = SeededRng.seeded(seed).split(`long-doc-reader/${split}`);
      return drawSplit(
        split,
        count,
        () => {
          const keys = rng
            .shuffle([...KEYS])
            .slice(0, o.sections)
            .join('');
          const values = Array.from({ length: o.sections }, () => String(rng.int(0, 99)).padStart(2, '0'));
          return { keys, values, question: keys[rng.int(0, o.sections - 1)] as string };
        },
        taskKey,
      );
    },
    taskId: taskKey,
    demonstrate(task) {
      const at = task.keys.indexOf(task.question);
      return [`skim 0 ${task.keys.length - 1}`, `read ${at}`, `answer ${task.values[at]}`];
    },
    alphabet: () => [...new Set(`${KEYS}skimreadnswofc 0123456789=`)].join(''),
    start(task): Episode {
      let turn = 0;
      let viewed = 0;
      let shown = question(task);
      let answered: string | undefined;
      let done = false;
      const right = task.values[task.keys.indexOf(task.question)];
      const gated = o.cost === 'gated';
      const gatedCost = () => (answered === right ? -o.penalty * Math.min(1, viewed / fullCost) : 0);
      const reward = () => ({
        correct: answered === right ? 1 : 0,
        view: gated ? gatedCost() : -(o.penalty * viewed) / fullCost,
        viewed,
      });
      const snapshot = () => ({ turn, viewed, shown, answered: answered ?? null, done });
      return {
        observation: () => shown,
        step(action) {
          if (done) return { reward: { correct: 0, view: 0, viewed: 0 }, done: true, valid: false };
          turn++;
          const parsed = parseLongDocAction(action, task.keys.length);
          const before = viewed;
          if (parsed === undefined) shown = 'bad action';
          else if (parsed.kind === 'answer') {
            answered = parsed.value;
            done = true;
          } else {
            viewed += (parsed.to - parsed.from + 1) * (parsed.kind === 'skim' ? SKIM_UNITS : READ_UNITS);
            shown = view(task, parsed);
          }
          if (turn >= o.maxTurns) done = true;
          const units = viewed - before;
          // Gated: the whole cost is paid on the last turn, so the turns still sum to the outcome.
          const cost = gated ? (done ? gatedCost() : 0) : -(o.penalty * units) / fullCost;
          return {
            reward: { correct: answered === right && done ? 1 : 0, view: cost, viewed: units },
            done,
            valid: parsed !== undefined,
            stateKey: `${taskKey(task)}#${turn}:${viewed}`,
          };
        },
        outcome: () => ({ reward: reward(), success: answered === right }),
        snapshot,
        restore(state) {
          const s = state as ReturnType<typeof snapshot>;
          ({ turn, viewed, shown, done } = s);
          answered = s.answered ?? undefined;
        },
      };
    },
  };
}
