/**
 * Entropic optimal transport between two uniform point clouds by Sinkhorn's iterations in the log
 * domain (Cuturi 2013, arXiv 1306.0895; the log-domain form of Peyré & Cuturi, "Computational
 * Optimal Transport", arXiv 1803.00567, section 4.4): the dual potentials f, g are updated by
 * soft-minimum (log-sum-exp) steps, so a small epsilon neither underflows nor overflows.
 *
 * The plan P minimises <P, C> - eps H(P) with H(P) = -sum P log P, over couplings whose rows sum to
 * 1/n and columns to 1/m. The reported `cost` is the transport cost of that plan, <P, C>, and
 * `rowCosts[i]` its part carried by point i of the first cloud (they sum to `cost`).
 */

export interface SinkhornOptions {
  /** The entropic regularisation (> 0). */
  epsilon: number;
  /** Most iterations (one iteration updates f, then g). */
  iterations?: number;
  /** Stop when no row marginal misses 1/n by more than this. */
  tolerance?: number;
}

export interface SinkhornResult {
  /** The plan, n x m. */
  plan: Float64Array[];
  /** <P, C>. */
  cost: number;
  /** sum_j P_ij C_ij for each row i. */
  rowCosts: Float64Array;
  iterations: number;
  /**
   * Whether the rows met `tolerance` (the columns always match 1/m after the last update). A nearly
   * degenerate problem (costs much larger than epsilon on the entries the plan must empty) converges
   * slowly, and may stop at the iteration cap a little off.
   */
  converged: boolean;
}

function logSumExp(values: Float64Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) if (v > max) max = v;
  if (max === Number.NEGATIVE_INFINITY) return max;
  let sum = 0;
  for (const v of values) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

export function sinkhorn(cost: readonly (readonly number[] | Float64Array)[], o: SinkhornOptions): SinkhornResult {
  const n = cost.length;
  const m = n ? (cost[0] as ArrayLike<number>).length : 0;
  if (n === 0 || m === 0) throw new RangeError(`sinkhorn: needs a non-empty cost matrix, got ${n} x ${m}`);
  if (!(o.epsilon > 0)) throw new RangeError(`sinkhorn: epsilon must be > 0, got ${o.epsilon}`);
  const eps = o.epsilon;
  const maxIterations = o.iterations ?? 1000;
  const tolerance = o.tolerance ?? 1e-9;
  const logA = Math.log(1 / n);
  const logB = Math.log(1 / m);
  const f = new Float64Array(n);
  const g = new Float64Array(m);
  const rowTerms = new Float64Array(m);
  const colTerms = new Float64Array(n);
  const c = (i: number, j: number) => (cost[i] as ArrayLike<number>)[j] as number;
  /** Sinkhorn's updates at regularisation e until the rows are within `tol` of 1/n; returns the iterations used. */
  let converged = false;
  const solve = (e: number, tol: number, budget: number): number => {
    converged = false;
    for (let it = 1; it <= budget; it++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) rowTerms[j] = ((g[j] as number) - c(i, j)) / e;
        f[i] = e * logA - e * logSumExp(rowTerms);
      }
      for (let j = 0; j < m; j++) {
        for (let i = 0; i < n; i++) colTerms[i] = ((f[i] as number) - c(i, j)) / e;
        g[j] = e * logB - e * logSumExp(colTerms);
      }
      // After the g update the columns are exact; the rows tell how far the plan is from converged.
      let worst = 0;
      for (let i = 0; i < n; i++) {
        let row = 0;
        for (let j = 0; j < m; j++) row += Math.exp(((f[i] as number) + (g[j] as number) - c(i, j)) / e);
        worst = Math.max(worst, Math.abs(row - 1 / n));
      }
      if (worst <= tol) {
        converged = true;
        return it;
      }
    }
    return budget;
  };
  // Epsilon scaling (Schmitzer 2019, arXiv 1610.06519): solve at a large regularisation first and
  // halve it, each stage warm-starting the next, so a small epsilon converges in few iterations.
  let largest = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) largest = Math.max(largest, c(i, j));
  let iterations = 0;
  for (let e = Math.max(eps, largest); e > eps; e = Math.max(eps, e / 2)) iterations += solve(e, 1e-3 / n, 50);
  iterations += solve(eps, tolerance, maxIterations);
  const plan: Float64Array[] = [];
  const rowCosts = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(m);
    let carried = 0;
    for (let j = 0; j < m; j++) {
      row[j] = Math.exp(((f[i] as number) + (g[j] as number) - c(i, j)) / eps);
      carried += (row[j] as number) * c(i, j);
    }
    plan.push(row);
    rowCosts[i] = carried;
    total += carried;
  }
  return { plan, cost: total, rowCosts, iterations, converged };
}

/** Squared Euclidean distance ||a - b||^2. */
export function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += ((a[k] as number) - (b[k] as number)) ** 2;
  return s;
}

/** The cost matrix C_ij = ||x_i - y_j||^2 between two point clouds. */
export function squaredDistances(xs: readonly ArrayLike<number>[], ys: readonly ArrayLike<number>[]): Float64Array[] {
  return xs.map((x) => Float64Array.from(ys, (y) => squaredDistance(x, y)));
}
