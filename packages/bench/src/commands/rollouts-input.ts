/**
 * Reads `bench advantages --rollouts file.json`: rollouts in the `Rollout` contract, either
 * as an array of groups (arrays of rollouts) or as a flat array grouped by `groupId` in order
 * of first appearance. Token fields default to empty, `valid` to true, `truncated` to false.
 * A rollout may carry `values` (one critic value per turn) for estimators that need a critic.
 * Every error names the position of the bad field.
 */
import { type Rollout, type Turn, UsageError } from '@policy-lab/core';
import { showValue } from '../io.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The largest reward magnitude accepted: estimators square rewards (standard deviations) and
 * sum the squares, which must stay below float64's largest value, about 1.8e308.
 */
export const MAX_REWARD = 1e150;

/** One reward: a finite number no larger in size than MAX_REWARD. */
export function checkReward(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new UsageError(`${where} must be a finite number, got ${showValue(value)}`);
  if (Math.abs(value) > MAX_REWARD)
    throw new UsageError(
      `${where} = ${value} is too large: |reward| must be at most ${MAX_REWARD} (squares for the standard deviation must stay finite)`,
    );
  return value;
}

export function rewardVector(value: unknown, where: string): Record<string, number> {
  if (!isObject(value)) throw new UsageError(`${where} must be an object of named rewards, got ${showValue(value)}`);
  for (const [name, v] of Object.entries(value)) checkReward(v, `${where}.${name}`);
  return value as Record<string, number>;
}

function numbers(value: unknown, where: string): number[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
    throw new UsageError(`${where} must be an array of finite numbers`);
  return value as number[];
}

function parseTurn(value: unknown, where: string): Turn {
  if (!isObject(value)) throw new UsageError(`${where} must be an object (a Turn)`);
  const text = (key: string) => {
    const v = value[key];
    if (v === undefined) return '';
    if (typeof v !== 'string') throw new UsageError(`${where}.${key} must be a string, got ${showValue(v)}`);
    return v;
  };
  const flag = (key: string, fallback: boolean) => {
    const v = value[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new UsageError(`${where}.${key} must be true or false, got ${showValue(v)}`);
    return v;
  };
  const stateKey = value.stateKey;
  if (stateKey !== undefined && typeof stateKey !== 'string')
    throw new UsageError(`${where}.stateKey must be a string, got ${showValue(stateKey)}`);
  return {
    observation: text('observation'),
    action: text('action'),
    promptTokens: numbers(value.promptTokens, `${where}.promptTokens`),
    actionTokens: numbers(value.actionTokens, `${where}.actionTokens`),
    logprobs: numbers(value.logprobs, `${where}.logprobs`),
    reward: rewardVector(value.reward ?? {}, `${where}.reward`),
    valid: flag('valid', true),
    truncated: flag('truncated', false),
    ...(stateKey === undefined ? {} : { stateKey }),
  };
}

export interface ParsedRollouts {
  groups: Rollout[][];
  /** Critic values per rollout id, when the file gives them. */
  values: Map<string, number[]>;
}

export function parseRolloutsJson(text: string, file: string): ParsedRollouts {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(data) || data.length === 0)
    throw new UsageError(`${file} must be a non-empty array of rollouts, or of groups of rollouts`);
  const nested = data.every((item) => Array.isArray(item));
  const values = new Map<string, number[]>();
  const parseRollout = (value: unknown, where: string, fallbackGroup: string, index: number): Rollout => {
    if (!isObject(value)) throw new UsageError(`${where} must be an object (a Rollout)`);
    const groupId = value.groupId ?? fallbackGroup;
    if (typeof groupId !== 'string') throw new UsageError(`${where}.groupId must be a string, got ${showValue(groupId)}`);
    const id = value.id ?? `${groupId}/${index}`;
    if (typeof id !== 'string') throw new UsageError(`${where}.id must be a string, got ${showValue(id)}`);
    const turns = value.turns ?? [];
    if (!Array.isArray(turns)) throw new UsageError(`${where}.turns must be an array of turns`);
    const success = value.success ?? false;
    if (typeof success !== 'boolean') throw new UsageError(`${where}.success must be true or false`);
    if (value.values !== undefined) {
      const v = numbers(value.values, `${where}.values`);
      if (v.length !== turns.length) throw new UsageError(`${where}.values has ${v.length} entries for ${turns.length} turns`);
      values.set(id, v);
    }
    const taskId = value.taskId ?? groupId;
    if (typeof taskId !== 'string') throw new UsageError(`${where}.taskId must be a string`);
    return {
      id,
      groupId,
      taskId,
      turns: turns.map((t, k) => parseTurn(t, `${where}.turns[${k}]`)),
      reward: rewardVector(value.reward, `${where}.reward`),
      success,
      ...(isObject(value.meta) ? { meta: value.meta } : {}),
    };
  };
  let groups: Rollout[][];
  if (nested) {
    groups = (data as unknown[][]).map((group, g) => {
      if (group.length === 0) throw new UsageError(`${file}[${g}] is an empty group`);
      return group.map((r, i) => parseRollout(r, `${file}[${g}][${i}]`, `g${g}`, i));
    });
  } else {
    const byGroup = new Map<string, Rollout[]>();
    data.forEach((r, i) => {
      const rollout = parseRollout(r, `${file}[${i}]`, 'g0', i);
      const list = byGroup.get(rollout.groupId) ?? [];
      list.push(rollout);
      byGroup.set(rollout.groupId, list);
    });
    groups = [...byGroup.values()];
  }
  const ids = new Set<string>();
  for (const r of groups.flat()) {
    if (ids.has(r.id)) throw new UsageError(`${file}: rollout id '${r.id}' appears twice`);
    ids.add(r.id);
  }
  return { groups, values };
}
