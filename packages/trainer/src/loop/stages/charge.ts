/**
 * Stage 5, charge: closes the step's account. Episodes, environment steps and generated tokens
 * were charged as they were drawn (a resample round must see them); this stage adds the tokens
 * the update trained on and the step's wall-clock seconds.
 */
import type { StepContext } from '../step-context.js';
import type { Updated } from './update.js';

export function chargeStep(ctx: Pick<StepContext, 'charge'>, updated: Updated, seconds: number): void {
  ctx.charge({ trainedTokens: updated.trainedTokens, seconds });
}
