export { buildProgram, main } from './cli.js';
export type { CompareConfig, PresetName, Unit } from './compare/plan.js';
export { PRESETS, planComparison, SFT_START, unitsOf } from './compare/plan.js';
export type { CompareRunOptions } from './compare/run-compare.js';
export { runComparison } from './compare/run-compare.js';
export type { GlobalOptions } from './context.js';
export { CommandContext } from './context.js';
export type { Io } from './io.js';
export { jsonDocument, processIo } from './io.js';
export type { Aggregates, EnvAggregate, MethodSummary, PairComparison, RunRecord } from './report/aggregate.js';
export { aggregate } from './report/aggregate.js';
export type { ComparisonDocument } from './report/render.js';
export { renderCsv, renderHtml, renderMarkdown, renderTable } from './report/render.js';
export type { BootstrapOptions, Interval } from './stats/rliable.js';
export {
  aggregateIqm,
  iqm,
  mean,
  overlaps,
  performanceProfile,
  probabilityOfImprovement,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
} from './stats/rliable.js';
