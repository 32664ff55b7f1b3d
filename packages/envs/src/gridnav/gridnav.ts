/**
 * gridnav: text-only navigation on procedurally generated grids. EB-Navigation's
 * semantics (instruction, six discrete moves with strafing, distance-threshold success,
 * 20-step cap, a feedback line), BabyAI-Text descriptions of what is visible, and SRGPO's
 * step reward as its own component.
 */
import { type Environment, type Episode, type Rng, resolveOptions, Rng as SeededRng, UsageError } from '@policy-lab/core';
import { drawSplit, TEST_SPLIT_SIZE } from '../shared/split.js';

const GRIDNAV_TRAIN_POOL = 10_000;

import {
  ACTIONS,
  type ActionId,
  applyAction,
  type Dir,
  egocentric,
  type GridLayout,
  type GridObject,
  isSuccess,
  isVisible,
  isWall,
  oraclePlan,
  type Pose,
  stepReward,
  vector,
} from './world.js';

export interface GridnavTask extends GridLayout {
  start: Pose;
  instruction: string;
  /** Length of the BFS oracle's plan. */
  optimalSteps: number;
}

export type GridnavPreset = 'small' | 'ebnav-scale';

export interface GridnavOptions {
  preset?: GridnavPreset;
  size?: number;
  walls?: number;
  distractors?: number;
  minDistance?: number;
  maxDistance?: number;
  radius?: number;
  maxSteps?: number;
  instruction?: 'base' | 'common-sense' | 'complex';
  render?: 'compact' | 'babyai';
  progressMetric?: 'euclidean' | 'geodesic';
}

const PRESETS: Record<GridnavPreset, Required<Pick<GridnavOptions, 'size' | 'minDistance' | 'maxDistance' | 'radius'>>> = {
  small: { size: 9, minDistance: 4, maxDistance: 7, radius: Math.SQRT2 },
  'ebnav-scale': { size: 17, minDistance: 10, maxDistance: 12, radius: 4 },
};

const OPTION_SPECS = {
  preset: {
    type: 'enum',
    values: ['small', 'ebnav-scale'],
    default: 'small',
    doc: "size, start distance and success radius: 'small' 9x9, 4-7 cells, sqrt 2; 'ebnav-scale' 17x17, 10-12 cells, 4 cells (EB-Nav's 1 m)",
  },
  size: { type: 'integer', doc: 'grid side including border walls (overrides the preset)' },
  walls: { type: 'integer', default: 3, doc: 'interior wall cells (difficulty)' },
  distractors: { type: 'integer', default: 3, doc: 'objects besides the target (difficulty)' },
  minDistance: { type: 'number', doc: 'least Euclidean start distance to the target, in cells (overrides the preset)' },
  maxDistance: { type: 'number', doc: 'greatest Euclidean start distance to the target (overrides the preset)' },
  radius: { type: 'number', doc: 'success radius in cells (overrides the preset)' },
  maxSteps: { type: 'integer', default: 20, doc: 'episode length cap (EB-Nav: 20)' },
  instruction: {
    type: 'enum',
    values: ['base', 'common-sense', 'complex'],
    default: 'base',
    doc: 'EB-Nav instruction subsets: the object named, described by its use, or buried in distractor sentences',
  },
  render: {
    type: 'enum',
    values: ['compact', 'babyai'],
    default: 'compact',
    doc: "observation text: 'compact' (short, for small models) or 'babyai' (BabyAI-Text sentences)",
  },
  progressMetric: {
    type: 'enum',
    values: ['euclidean', 'geodesic'],
    default: 'euclidean',
    doc: "distance in SRGPO's step reward; 'geodesic' (BFS) does not reward walking into dead ends",
  },
} as const;

const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'grey'] as const;
const TYPES = ['ball', 'box', 'apple', 'bread', 'pot', 'lamp', 'sofa', 'tv'] as const;
const USES: Record<(typeof TYPES)[number], string> = {
  ball: 'something you can throw and bounce',
  box: 'something to keep things in',
  apple: 'a fruit you can eat',
  bread: 'something baked for breakfast',
  pot: 'something to cook soup in',
  lamp: 'something that gives light',
  sofa: 'something to sit on',
  tv: 'something to watch shows on',
};
const FILLER = ['the house is quiet today.', 'you have been walking for a while.', 'someone left the window open.'];

type Resolved = Required<Omit<GridnavOptions, 'size' | 'minDistance' | 'maxDistance' | 'radius'>> &
  Required<Pick<GridnavOptions, 'size' | 'minDistance' | 'maxDistance' | 'radius'>>;

function instructionFor(kind: Resolved['instruction'], target: GridObject, rng: Rng): string {
  const base = `navigate to the ${target.color} ${target.type} and be as close as possible to it.`;
  if (kind === 'base') return base;
  if (kind === 'common-sense')
    return `navigate to the ${target.color} thing that is ${USES[target.type as (typeof TYPES)[number]]} and stay close to it.`;
  const fillers = rng.shuffle(FILLER).slice(0, 1 + (rng.int(0, 1) as number));
  return [...fillers, base].join(' ');
}

function layoutKey(task: GridnavTask): string {
  const objects = task.objects.map((o) => `${o.color}${o.type}@${o.x},${o.y}`).join(';');
  const walls = task.walls.map(([x, y]) => `${x},${y}`).join(';');
  return `${task.size}|${walls}|${objects}|t${task.target}|${task.start.x},${task.start.y},${task.start.dir}|${task.instruction}`;
}

function drawTask(rng: Rng, o: Resolved): GridnavTask | undefined {
  const free = (cells: Set<string>) => {
    for (let tries = 0; tries < 100; tries++) {
      const x = rng.int(1, o.size - 2);
      const y = rng.int(1, o.size - 2);
      if (!cells.has(`${x},${y}`)) return [x, y] as [number, number];
    }
    return undefined;
  };
  const used = new Set<string>();
  const walls: [number, number][] = [];
  for (let i = 0; i < o.walls; i++) {
    const cell = free(used);
    if (!cell) return undefined;
    used.add(`${cell[0]},${cell[1]}`);
    walls.push(cell);
  }
  const objects: GridObject[] = [];
  const kinds = new Set<string>();
  for (let i = 0; i <= o.distractors; i++) {
    const cell = free(used);
    if (!cell) return undefined;
    used.add(`${cell[0]},${cell[1]}`);
    const color = rng.pick(COLORS);
    const type = rng.pick(TYPES);
    objects.push({ color, type, x: cell[0], y: cell[1] });
    kinds.add(`${color} ${type}`);
  }
  // The target is an object whose (colour, type) is unique in the room.
  const unique = objects
    .map((obj, i) => ({ obj, i }))
    .filter(({ obj }) => objects.filter((p) => p.color === obj.color && p.type === obj.type).length === 1);
  if (unique.length === 0) return undefined;
  const target = rng.pick(unique).i;
  const cell = free(used);
  if (!cell) return undefined;
  const start: Pose = { x: cell[0], y: cell[1], dir: rng.int(0, 3) as Dir };
  const layout: GridLayout = { size: o.size, walls, objects, target, radius: o.radius };
  const t = objects[target] as GridObject;
  const distance = Math.hypot(t.x - start.x, t.y - start.y);
  if (distance < o.minDistance || distance > o.maxDistance || isSuccess(layout, start)) return undefined;
  const plan = oraclePlan(layout, start);
  if (!plan || plan.length > o.maxSteps - 4) return undefined;
  return { ...layout, start, instruction: instructionFor(o.instruction, t, rng), optimalSteps: plan.length };
}

/** Parses `<action>k</action>`, a bare id, or an action's name. */
export function parseGridnavAction(text: string): ActionId | undefined {
  const trimmed = text.trim().toLowerCase();
  const tagged = /^<action>\s*([0-5])\s*<\/action>$/.exec(trimmed);
  const id = tagged ? tagged[1] : /^[0-5]$/.test(trimmed) ? trimmed : undefined;
  if (id !== undefined) return Number(id) as ActionId;
  const named = ACTIONS.indexOf(trimmed as (typeof ACTIONS)[number]);
  return named >= 0 ? (named as ActionId) : undefined;
}

function steps(n: number): string {
  return n === 1 ? '1 step' : `${n} steps`;
}

/** What the agent sees: objects in the view cone and the nearest wall ahead, left and right. */
function describe(task: GridnavTask, pose: Pose, render: Resolved['render']): string[] {
  const parts: string[] = [];
  for (const obj of task.objects) {
    if (!isVisible(task, pose, obj.x, obj.y)) continue;
    const { forward, right } = egocentric(pose, obj.x, obj.y);
    if (render === 'compact') {
      const side = right === 0 ? '' : right > 0 ? ` r${right}` : ` l${-right}`;
      parts.push(`${obj.color} ${obj.type} f${forward}${side}`);
    } else {
      const side = right === 0 ? '' : ` and ${steps(Math.abs(right))} ${right > 0 ? 'right' : 'left'}`;
      parts.push(`you see a ${obj.color} ${obj.type} ${steps(forward)} forward${side}.`);
    }
  }
  for (const [label, rotation] of [
    ['forward', 0],
    ['right', 1],
    ['left', 3],
  ] as const) {
    const [dx, dy] = vector(((pose.dir + rotation) % 4) as Dir);
    let n = 1;
    while (!isWall(task, pose.x + dx * n, pose.y + dy * n)) n++;
    if (n > VIEW_WALL_RANGE) continue;
    parts.push(render === 'compact' ? `wall ${label[0]}${n}` : `you see a wall ${steps(n)} ${label}.`);
  }
  return parts;
}

/** Walls further than this are not described (keeps observations short). */
const VIEW_WALL_RANGE = 3;

function observationText(task: GridnavTask, o: Resolved, pose: Pose, step: number, feedback: string): string {
  const seen = describe(task, pose, o.render);
  if (o.render === 'compact') {
    // The goal is repeated every turn so that it survives the trainer's context truncation.
    const t = task.objects[task.target] as GridObject;
    const head = step === 0 ? `${task.instruction} ` : '';
    return `${head}goal ${t.color} ${t.type}; t${step}; ${feedback}; ${seen.join(', ') || 'nothing'}`;
  }
  const head = step === 0 ? `${task.instruction} ` : '';
  return `${head}step ${step}/${o.maxSteps}. ${feedback} ${seen.join(' ') || 'you see nothing.'}`;
}

export function gridnav(options: GridnavOptions = {}): Environment<GridnavTask> {
  const preset = (options.preset ?? 'small') as GridnavPreset;
  if (!(preset in PRESETS)) throw new UsageError(`gridnav: unknown preset '${preset}'; expected one of: small, ebnav-scale`);
  const withPreset = { ...PRESETS[preset], ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const o = resolveOptions<Resolved>('gridnav', OPTION_SPECS, withPreset as Record<string, unknown>);
  if (o.size < 5 || o.size > 33) throw new UsageError(`gridnav: option 'size' must be 5..33, got ${o.size}`);
  if (o.walls < 0 || o.distractors < 0 || o.distractors > 8)
    throw new UsageError(`gridnav: 'walls' must be >= 0 and 'distractors' 0..8, got ${o.walls} and ${o.distractors}`);
  if (!(o.minDistance > 0 && o.maxDistance >= o.minDistance))
    throw new UsageError(`gridnav: need 0 < minDistance <= maxDistance, got ${o.minDistance} and ${o.maxDistance}`);
  if (o.maxSteps < 5) throw new UsageError(`gridnav: option 'maxSteps' must be >= 5, got ${o.maxSteps}`);

  return {
    name: 'gridnav',
    summary:
      'Text navigation on procedural grids (EB-Nav moves, BabyAI-Text view, SRGPO step reward); components won, progress, invalid',
    paper: { title: 'SeeNav-Agent / SRGPO (navigation with step-level rewards)', arxiv: '2512.02631', year: 2025 },
    options: OPTION_SPECS,
    resolved: o,
    configure: (next) => gridnav({ ...options, ...next }),
    rewardComponents: [
      { name: 'won', weight: 1 },
      { name: 'progress', weight: 0.1 },
      { name: 'invalid', weight: 0.1 },
    ],
    maxTurns: o.maxSteps,
    recommended: {
      dim: 64,
      layers: 2,
      heads: 4,
      contextLength: o.render === 'compact' ? 128 : 384,
      maxNewTokens: 4,
    },
    // A smaller training pool than the other environments': a layout costs about half a millisecond (BFS checks),
    // so 50,000 would add 28 s to every run's start. A 20,000-episode run with groups of 4 draws 5,000 tasks from these 10,000.
    tasks(split, { seed, count = split === 'test' ? TEST_SPLIT_SIZE : GRIDNAV_TRAIN_POOL }) {
      const rng = SeededRng.seeded(seed).split(`gridnav/${split}`);
      return drawSplit(split, count, () => drawTask(rng, o), layoutKey);
    },
    taskId: (task) => layoutKey(task),
    demonstrate: (task) => (oraclePlan(task, task.start) ?? []).map(String),
    alphabet: () => 'abcdefghijklmnopqrstuvwxyz0123456789 .,;/<>',
    start(task): Episode {
      let pose = task.start;
      let step = 0;
      let feedback = o.render === 'compact' ? 'start' : 'you are in the room.';
      let won = false;
      let done = false;
      const total = { won: 0, progress: 0, invalid: 0 };
      const snapshot = () => ({ pose, step, feedback, won, done, total: { ...total } });
      return {
        observation: () => observationText(task, o, pose, step, feedback),
        step(action) {
          if (done) throw new Error('gridnav: step() called after the episode ended');
          const stateKey = `${pose.x},${pose.y},${pose.dir}`;
          step++;
          const id = parseGridnavAction(action);
          const moved = id === undefined ? undefined : applyAction(task, pose, id);
          const reward = { won: 0, progress: 0, invalid: 0 };
          if (id === undefined) {
            reward.invalid = -1;
            feedback = o.render === 'compact' ? 'bad action' : 'last action is invalid. use an action id 0-5.';
          } else if (!moved) {
            reward.invalid = -1;
            feedback =
              o.render === 'compact' ? `blocked ${id}` : `last action ${ACTIONS[id]} is invalid. something is blocking you.`;
          } else {
            reward.progress = stepReward(task, pose, moved, o.progressMetric);
            pose = moved;
            feedback = o.render === 'compact' ? `ok ${id}` : `last action ${ACTIONS[id]} executed successfully.`;
            if (isSuccess(task, pose)) reward.won = 1;
          }
          won = reward.won === 1;
          done = won || step >= o.maxSteps;
          total.won += reward.won;
          total.progress += reward.progress;
          total.invalid += reward.invalid;
          return { reward, done, valid: moved !== undefined, stateKey, info: { pose: { ...pose } } };
        },
        outcome: () => ({ reward: { ...total }, success: won }),
        snapshot,
        restore(state) {
          const s = state as ReturnType<typeof snapshot>;
          ({ pose, step, feedback, won, done } = s);
          Object.assign(total, s.total);
        },
      };
    },
  };
}
