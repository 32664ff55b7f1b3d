/**
 * A model other than the sampling policy (the reference, a teacher) whose teacher-forced
 * scoring is charged as auxScoredTokens: rows x length of each pass, the work actually done.
 */
import type { BudgetConsumption } from '@policy-lab/core';
import type { PolicyModel } from '../model/policy.js';

export function chargedModel(model: PolicyModel, charge: (cost: Partial<BudgetConsumption>) => void): PolicyModel {
  return {
    get config() {
      return model.config;
    },
    get variables() {
      return model.variables;
    },
    score(inputs, targets, options) {
      charge({ auxScoredTokens: (inputs.shape[0] as number) * (inputs.shape[1] as number) });
      return model.score(inputs, targets, options);
    },
    generate: (prompts, options) => model.generate(prompts, options),
    beamSearch: (prompt, options) => model.beamSearch(prompt, options),
    freeze: () => model.freeze(),
    copyFrom: (other) => model.copyFrom(other),
    dispose: () => model.dispose(),
  };
}
