import type {
  AdvantageEstimator,
  Divergence,
  Environment,
  Method,
  Plugin,
  PolicyLoss,
  RewardModel,
  RewardShaper,
  RewardVector,
  Sampler,
  StepHook,
  TaskSource,
} from './contracts.js';

// Identity helpers: they do nothing at run time and give third parties type inference.
export const definePlugin = (plugin: Plugin): Plugin => plugin;
export const defineEstimator = <E extends AdvantageEstimator>(estimator: E): E => estimator;
export const defineLoss = <L extends PolicyLoss<any, any>>(loss: L): L => loss;
export const defineDivergence = <D extends Divergence<any, any>>(divergence: D): D => divergence;
export const defineShaper = <S extends RewardShaper>(shaper: S): S => shaper;
export const defineEnvironment = <E extends Environment<any>>(environment: E): E => environment;
export const defineSampler = <S extends Sampler>(sampler: S): S => sampler;
export const defineRewardModel = <R extends RewardModel>(model: R): R => model;
export const defineTaskSource = <T extends TaskSource>(source: T): T => source;
export const defineHook = <H extends StepHook>(hook: H): H => hook;
export const defineMethod = <M extends Method>(method: M): M => method;

/**
 * The contract's composition rule: a weighted sum over the weighted components. A component
 * with a weight but no value is an error naming it (silently reading 0 would hide a bug).
 */
export function weightedSum(reward: RewardVector, weights: Readonly<Record<string, number>>, where = 'reward'): number {
  let total = 0;
  for (const [name, weight] of Object.entries(weights)) {
    const value = reward[name];
    if (value === undefined) {
      throw new RangeError(`${where} has no component '${name}' (has: ${Object.keys(reward).join(', ') || 'none'})`);
    }
    if (!Number.isFinite(value)) throw new RangeError(`${where} component '${name}' is not finite: ${value}`);
    total += weight * value;
  }
  return total;
}
