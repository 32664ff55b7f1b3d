/**
 * One Adam update (Kingma & Ba 2014, arXiv 1412.6980) on plain arrays, for the small
 * plain-TypeScript models that plugins and the trainer own beside the policy: the moments and the
 * step count belong to the caller, so a checkpoint can hold them and a resumed run continues exactly.
 * `step` is the update's 1-based count (the bias corrections use it).
 */
export function adamStep(
  params: Float64Array,
  moments: { m: Float64Array; v: Float64Array },
  grad: Float64Array,
  step: number,
  learningRate: number,
): void {
  const b1 = 0.9;
  const b2 = 0.999;
  const c1 = 1 - b1 ** step;
  const c2 = 1 - b2 ** step;
  const { m, v } = moments;
  for (let i = 0; i < grad.length; i++) {
    const g = grad[i] as number;
    m[i] = b1 * (m[i] as number) + (1 - b1) * g;
    v[i] = b2 * (v[i] as number) + (1 - b2) * g * g;
    params[i] = (params[i] as number) - (learningRate * ((m[i] as number) / c1)) / (Math.sqrt((v[i] as number) / c2) + 1e-8);
  }
}
