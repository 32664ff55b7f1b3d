/**
 * Runs a comparison into an --out folder: each (method, env, seed) unit is trained once
 * (resumable from its checkpoints) and its result written atomically when done; the
 * results, aggregates and reports are then written from those files alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunError, SCHEMA_VERSION, UsageError } from '@policy-lab/core';
import type { TrainResult } from '@policy-lab/trainer';
import { showValue } from '../io.js';
import { buildLeaderboard } from '../leaderboard/board.js';
import { leaderboardMarkdown } from '../leaderboard/render.js';
import { aggregate, type RunRecord } from '../report/aggregate.js';
import { compareWithBaseline } from '../report/baseline.js';
import { comparisonCost } from '../report/cost.js';
import { methodStepDiagnostics, readStepSeries } from '../report/diagnostics-html.js';
import { type ComparisonDocument, renderCsv, renderHtml, renderMarkdown } from '../report/render.js';
import {
  budgetOf,
  type CompareConfig,
  type CompareModel,
  describeRun,
  fingerprint,
  overridesFor,
  SFT_START,
  type Unit,
  unitsOf,
} from './plan.js';
import { runOnPool, type UnitFailure, type UnitRequest } from './pool.js';
import type { UnitResult } from './run-unit.js';

export interface CompareRunOptions {
  out: string;
  resume: boolean;
  force: boolean;
  workers: number;
  threads: number;
  cwd: string;
  plugins: string[];
  config?: string;
  reps?: number;
  /** An earlier results.json of the same protocol to report each method against (--baseline). */
  baseline?: { file: string; document: ComparisonDocument; differences: string[] };
  /** Runs units somewhere else (tests, the BullMQ queue); default: the local process pool. */
  runUnits?: (requests: UnitRequest[], events: Parameters<typeof runOnPool>[2]) => Promise<void>;
  onProgress?(done: number, total: number, running: Map<string, number>): void;
  /** A leaderboard's unit failed; the others go on. */
  onFailure?(id: string, message: string): void;
}

/** A leaderboard's unit that failed (results.json `failed`); --resume trains it again. */
export interface FailedUnit {
  id: string;
  method: string;
  env: string;
  seed: number;
  message: string;
}

function writeAtomic(file: string, text: string): void {
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** What a comparison writes into its --out folder; `--force` deletes these and nothing else. */
const OWN_ENTRIES = [
  'comparison.json',
  'results.json',
  'results.csv',
  'report.md',
  'report.html',
  'leaderboard.md',
  'runs',
  'sft-cache',
];
const isOwnEntry = (name: string) => OWN_ENTRIES.includes(name) || /\.tmp-\d+$/.test(name);

/** Reads a JSON file this harness wrote; a damaged one is bad input naming the file (exit 2). */
export function readOwnJson(file: string, hint = ''): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})${hint}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not valid JSON (${(error as Error).message})${hint}`);
  }
}

/**
 * Checks the fields of a run (a unit's result.json, or a run of results.json) that the
 * aggregates and reports read; throws one line naming the file and the field.
 */
export function checkRun(value: unknown, file: string, where = ''): void {
  const failure = (field: string, expected: string, got: unknown) =>
    new UsageError(`${file}: ${`${where}${field}`.replace(/\.$/, '') || 'the run'} must be ${expected}, got ${showValue(got)}`);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const object = (v: unknown, field: string): Record<string, unknown> => {
    if (!isObject(v)) throw failure(field, 'an object', v);
    return v;
  };
  const number = (v: unknown, field: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw failure(field, 'a finite number', v);
  };
  const numbers = (v: unknown, field: string) => {
    for (const [key, x] of Object.entries(object(v, field))) number(x, `${field}.${key}`);
  };
  const run = object(value, '');
  for (const key of ['method', 'env']) if (typeof run[key] !== 'string') throw failure(key, 'a string', run[key]);
  number(run.seed, 'seed');
  number(run.steps, 'steps');
  numbers(object(run.budget, 'budget').consumed, 'budget.consumed');
  for (const key of ['initial', 'final']) {
    const evaluation = object(run[key], key);
    for (const metric of ['success', 'greedySuccess', 'passAtK']) number(evaluation[metric], `${key}.${metric}`);
    numbers(evaluation.reward, `${key}.reward`);
  }
  if (!Array.isArray(run.curve)) throw failure('curve', 'an array', run.curve);
  run.curve.forEach((point: unknown, i: number) => {
    const entry = object(point, `curve[${i}]`);
    for (const metric of ['step', 'episodes', 'generatedTokens', 'success']) number(entry[metric], `curve[${i}].${metric}`);
  });
  object(run.diagnostics, 'diagnostics');
}

/**
 * Takes the --out folder for this comparison: checks what it holds, and with --force deletes
 * an earlier comparison's files (its unit checkpoints would otherwise be resumed under the new
 * settings). Files that a comparison does not write are kept.
 */
function claimOut(out: string, config: CompareConfig, options: CompareRunOptions, holdFolder: HoldFolder): void {
  const marker = path.join(out, 'comparison.json');
  const id = fingerprint(config);
  if (options.force && options.resume) throw new UsageError('--force starts afresh and --resume continues: choose one');
  if (options.force) discardComparison(out, holdFolder);
  else if (existsSync(marker)) {
    const previous = readOwnJson(marker, '; pass --force to start afresh') as { fingerprint?: unknown };
    if (typeof previous?.fingerprint !== 'string')
      throw new UsageError(
        `${marker}: fingerprint must be a string, got ${showValue(previous?.fingerprint)}; pass --force to start afresh`,
      );
    if (previous.fingerprint !== id) {
      const changed = modelChanged(previous as { config?: { model?: CompareModel } }, config);
      if (changed)
        throw new UsageError(
          `--out ${out} holds this comparison on another content of the model folder: ${changed}; resume with the model it started from, or pass --force`,
        );
      throw new UsageError(
        `--out ${out} holds a different comparison (fingerprint ${previous.fingerprint}, this one ${id}); choose another --out or pass --force`,
      );
    }
    if (!options.resume) {
      throw new UsageError(`--out ${out} already holds this comparison: pass --resume to continue it or --force to start over`);
    }
  } else if (existsSync(out) && readdirSync(out).length > 0) {
    throw new UsageError(`--out ${out} is not empty and holds no comparison; choose another --out or pass --force`);
  }
  try {
    mkdirSync(path.join(out, 'runs'), { recursive: true });
    writeAtomic(marker, `${JSON.stringify({ fingerprint: id, config }, null, 2)}\n`);
  } catch (error) {
    throw new UsageError(`--out ${out} is not writable (${(error as Error).message})`);
  }
}

/** The model files that changed since the comparison in --out planned (previous config's model), in words; undefined if none did. */
function modelChanged(previous: { config?: { model?: CompareModel } }, config: CompareConfig): string | undefined {
  const before = previous.config?.model?.files;
  const now = config.model?.files;
  if (!before || !now) return undefined;
  const names = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  const changed = names.filter((name) => before[name] !== now[name]);
  return changed.length
    ? changed
        .map((name) => `${name} (${before[name] === undefined ? 'added' : now[name] === undefined ? 'removed' : 'changed'})`)
        .join(', ')
    : undefined;
}

/** Deletes what a comparison wrote into `out`, after checking that no unit of it is still being trained. */
function discardComparison(out: string, holdFolder: HoldFolder): void {
  if (!existsSync(out)) return;
  const runs = path.join(out, 'runs');
  if (existsSync(runs))
    for (const name of readdirSync(runs).filter((n) => n.endsWith('.lock')))
      holdFolder(path.join(runs, name.slice(0, -5)), 'bench compare --force').release();
  for (const name of readdirSync(out).filter(isOwnEntry)) rmSync(path.join(out, name), { recursive: true, force: true });
}

function toRecord(unit: Unit, result: UnitResult): RunRecord {
  return {
    id: unit.id,
    method: unit.method,
    env: unit.env,
    seed: unit.seed,
    budget: result.budget as unknown as RunRecord['budget'],
    initial: result.initial,
    final: result.final,
    curve: result.curve,
    diagnostics: result.diagnostics,
    steps: result.steps,
    config: result.config as unknown as Record<string, unknown>,
    ...(result.sideBudget ? { sideBudget: result.sideBudget } : {}),
    ...(result.timings ? { timings: result.timings } : {}),
    ...(result.creditMap ? { creditMap: result.creditMap } : {}),
    ...(result.sftStart ? { sftStart: result.sftStart } : {}),
    ...(result.rewardModelPretraining ? { rewardModelPretraining: result.rewardModelPretraining } : {}),
  };
}

export async function runComparison(config: CompareConfig, options: CompareRunOptions): Promise<ComparisonDocument> {
  // Loaded here, not at the top: `bench report` imports this module and needs no tensors.
  const { holdFolder } = await import('@policy-lab/trainer');
  // One coordinator per --out: a second one is refused, naming the first; a killed one is replaced at once.
  const held = holdFolder(options.out, 'bench compare');
  try {
    return await compareInto(config, options, holdFolder);
  } finally {
    held.release();
  }
}

type HoldFolder = typeof import('@policy-lab/trainer').holdFolder;

async function compareInto(
  config: CompareConfig,
  options: CompareRunOptions,
  holdFolder: HoldFolder,
): Promise<ComparisonDocument> {
  claimOut(options.out, config, options, holdFolder);
  const units = unitsOf(config);
  const resultFile = (unit: Unit) => path.join(options.out, 'runs', unit.id, 'result.json');
  const finished = new Map<string, TrainResult>();
  for (const unit of units) {
    const file = resultFile(unit);
    if (!options.resume || !existsSync(file)) continue;
    const result = readOwnJson(file, '; delete the file to train this run again');
    checkRun(result, file);
    finished.set(unit.id, result as TrainResult);
  }
  const pending = units.filter((u) => !finished.has(u.id));
  const requests: UnitRequest[] = pending.map((unit) => ({
    unit,
    cwd: options.cwd,
    plugins: options.plugins,
    ...(options.config ? { config: options.config } : {}),
    backend: config.backend,
    kernels: config.kernels,
    threads: options.threads,
    budget: budgetOf(config, unit.env),
    overrides: overridesFor(config, unit.method, unit.env),
    ...(config.preferences ? { preferences: config.preferences } : {}),
    ...(config.model ? { model: config.model } : {}),
    outDir: path.join(options.out, 'runs', unit.id),
    // One SFT checkpoint per (environment, seed), shared by every method of the comparison.
    sftCacheDir: path.join(options.out, 'sft-cache'),
  }));
  const running = new Map<string, number>();
  options.onProgress?.(finished.size, units.length, running);
  // A leaderboard goes on past a failed unit (hundreds of them; one method's failure is a result to
  // report, not a reason to lose the others); a comparison stops at the first, since every unit matters.
  const failures: FailedUnit[] = [];
  const onFailed = (failure: UnitFailure) => {
    const unit = units.find((u) => u.id === failure.unitId) as Unit;
    const message = failure.message.replace(/^run \S+ failed: /, '');
    failures.push({ id: unit.id, method: unit.method, env: unit.env, seed: unit.seed, message });
    running.delete(unit.id);
    options.onFailure?.(unit.id, message);
  };
  const events = {
    ...(config.leaderboard ? { onFailed } : {}),
    onProgress(id: string, fraction: number) {
      running.set(id, fraction);
      options.onProgress?.(finished.size, units.length, running);
    },
    onDone(id: string, result: TrainResult) {
      const unit = units.find((u) => u.id === id) as Unit;
      mkdirSync(path.dirname(resultFile(unit)), { recursive: true });
      writeAtomic(resultFile(unit), `${JSON.stringify(result)}\n`);
      finished.set(id, result);
      running.delete(id);
      options.onProgress?.(finished.size, units.length, running);
    },
  };
  if (requests.length) await (options.runUnits ?? ((r, e) => runOnPool(r, options.workers, e)))(requests, events);
  const lost = units.filter((u) => !finished.has(u.id) && !failures.some((f) => f.id === u.id));
  if (lost.length)
    throw new RunError(`${lost.length} run(s) neither finished nor failed (${lost[0]?.id}, ...); --resume trains them`);
  const runs = units.flatMap((unit) => {
    const result = finished.get(unit.id);
    return result ? [toRecord(unit, result)] : [];
  });
  const fallbacks = [...new Set([...finished.values()].flatMap((r) => (r.kernelsFallback ? [r.kernelsFallback] : [])))];
  const document: ComparisonDocument = {
    schemaVersion: SCHEMA_VERSION,
    kind: 'compare',
    config: {
      ...config,
      budget: config.budget as unknown as Record<string, unknown>,
      note: describeRun(config),
    } as ComparisonDocument['config'],
    versions: versions(),
    gitDescribe: gitDescribe(options.cwd),
    backend: config.backend,
    machine: {
      platform: process.platform,
      arch: process.arch,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    runs,
    aggregates: aggregate(runs, {
      ...(options.reps ? { reps: options.reps } : {}),
      ...(config.leaderboard ? { pairsAgainst: [config.leaderboard.reference, SFT_START] } : {}),
    }),
    ...(fallbacks.length ? { kernelsFallback: fallbacks } : {}),
    ...(failures.length ? { failed: failures } : {}),
  };
  document.cost = comparisonCost(runs);
  const stepDiagnostics = methodStepDiagnostics(options.out, runs);
  if (stepDiagnostics.length) document.stepDiagnostics = stepDiagnostics;
  if (config.leaderboard)
    document.leaderboard = buildLeaderboard(runs, {
      reference: config.leaderboard.reference,
      skipped: config.skipped ?? [],
      bootstrap: { ...(options.reps ? { reps: options.reps } : {}) },
    });
  if (options.baseline) {
    const { file, document: earlier, differences } = options.baseline;
    document.baseline = compareWithBaseline(document, earlier, file, differences, document.aggregates.bootstrap);
  }
  await writeOutputs(options.out, document);
  if (failures.length)
    throw new RunError(
      `${failures.length} of ${units.length} runs failed (${failures.map((f) => f.id).join(', ')}); results.json and the reports cover the others and list these; --resume retries them`,
    );
  return document;
}

export async function writeOutputs(out: string, document: ComparisonDocument): Promise<void> {
  writeAtomic(path.join(out, 'results.json'), `${JSON.stringify(document, null, 2)}\n`);
  await writeReports(out, document);
}

/** The files rendered from results.json (what `bench report` re-renders; it never rewrites results.json). */
export async function writeReports(out: string, document: ComparisonDocument): Promise<void> {
  writeAtomic(path.join(out, 'results.csv'), renderCsv(document));
  writeAtomic(path.join(out, 'report.md'), renderMarkdown(document));
  writeAtomic(path.join(out, 'report.html'), await renderHtml(document, readStepSeries(out, document.runs)));
  if (document.leaderboard) writeAtomic(path.join(out, 'leaderboard.md'), leaderboardMarkdown(document.leaderboard));
}

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of ['core', 'trainer', 'advantage', 'envs', 'bench']) {
    try {
      const file = new URL(`../../../${name}/package.json`, import.meta.url);
      out[`@policy-lab/${name}`] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      // not installed next to bench
    }
  }
  return out;
}

function gitDescribe(cwd: string): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}
