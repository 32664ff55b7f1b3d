import type { Plugin } from '@policy-lab/core';
import { arithmetic } from './arithmetic/arithmetic.js';
import { code } from './code/code.js';
import { countdown } from './countdown/countdown.js';
import { flowboostElites, flowboostMask, flowboostMethod } from './flowboost/flowboost.js';
import { gridPacking } from './grid-packing/grid-packing.js';
import { gridnav } from './gridnav/gridnav.js';
import { judgeTasks } from './judge-tasks/judge-tasks.js';
import { sparkSelfJudge } from './judge-tasks/spark.js';
import { longDocReader } from './long-doc/long-doc.js';
import { nextSegment } from './next-segment/next-segment.js';
import { policyJudge } from './policy-judge/policy-judge.js';
import { evolvingPool } from './task-sources/evolving-pool.js';
import { inspo } from './task-sources/inspo.js';
import { prioritized } from './task-sources/prioritized.js';
import { translate } from './translate/translate.js';
import { selfReferee } from './urpo/self-referee.js';
import { urpoMix } from './urpo/urpo.js';
import { webshop } from './webshop/webshop.js';

export type { ArithmeticOptions, ArithmeticTask } from './arithmetic/arithmetic.js';
export { arithmetic, scoreArithmetic } from './arithmetic/arithmetic.js';
export type { Extraction } from './arithmetic/extract.js';
export { extractFlexible, extractStrict } from './arithmetic/extract.js';
export type { CodeLevel, CodeOptions, CodeScore, CodeTask } from './code/code.js';
export { code, scoreProgram } from './code/code.js';
export type { Node as CodeNode, RunResult } from './code/language.js';
export { parseProgram, runProgram } from './code/language.js';
export type { CountdownOptions, CountdownTask } from './countdown/countdown.js';
export { countdown, scoreCountdown } from './countdown/countdown.js';
export type { ParsedExpression } from './countdown/expression.js';
export { parseExpression } from './countdown/expression.js';
export { solveCountdown } from './countdown/solve.js';
export type { FlowboostElitesOptions } from './flowboost/flowboost.js';
export {
  eliteDiagnostics,
  extremalOf,
  flowboostElites,
  flowboostMask,
  flowboostMethod,
  maskRows,
  openFlowboostElites,
} from './flowboost/flowboost.js';
export type { ExtremalStructure, GridPackingOptions, PackingTask } from './grid-packing/grid-packing.js';
export { gridPacking, packingStructure, scorePacking } from './grid-packing/grid-packing.js';
export type { GridnavOptions, GridnavPreset, GridnavTask } from './gridnav/gridnav.js';
export { gridnav, parseGridnavAction } from './gridnav/gridnav.js';
export type { ActionId as GridnavActionId, GridLayout, GridObject, Pose } from './gridnav/world.js';
export { oraclePlan, stepReward as gridnavStepReward } from './gridnav/world.js';
export type { JudgeItem, JudgeTask, JudgeTasksOptions, JudgeWords } from './judge-tasks/judge-tasks.js';
export {
  isJudgeTask,
  JUDGE_COMPONENT,
  judgeItems,
  judgeTasks,
  judgeWords,
  openJudgeTasks,
  transcriptOf,
  withJudgeTasks,
} from './judge-tasks/judge-tasks.js';
export type { SparkItem, SparkRouting, SparkSelfJudgeOptions, SparkTask, SparkWords } from './judge-tasks/spark.js';
export {
  corruptAnswer,
  isSparkTask,
  openSparkTasks,
  SPARK_ROUTING,
  sparkItems,
  sparkPrompt,
  sparkSelfJudge,
  sparkUnfit,
  sparkWords,
  warmStartItems,
  withSparkTasks,
} from './judge-tasks/spark.js';
export type { LongDocAction, LongDocOptions, LongDocTask } from './long-doc/long-doc.js';
export { longDocReader, parseLongDocAction } from './long-doc/long-doc.js';
export type { Animal, Document as TextDocument } from './next-segment/corpus.js';
export { segmentText, syntheticCorpus } from './next-segment/corpus.js';
export { tokenF1 } from './next-segment/match.js';
export type { NextSegmentOptions, NextSegmentTask } from './next-segment/next-segment.js';
export { nextSegment } from './next-segment/next-segment.js';
export type { PerturbationOptions, SmoothingOptions } from './observation-noise/observation-noise.js';
export { perturbObservations, smoothObservations } from './observation-noise/observation-noise.js';
export type { PolicyJudgeOptions, PolicyJudgeTask } from './policy-judge/policy-judge.js';
export { crossPolicyGap, judgeTaskId, policyJudge, scoreJudge } from './policy-judge/policy-judge.js';
export type { SplitSizes } from './shared/split.js';
export { splitSizes, TEST_SPLIT_SIZE, TRAIN_POOL_SIZE } from './shared/split.js';
export type { EvolvingPoolOptions } from './task-sources/evolving-pool.js';
export { evolvingPool, openEvolvingPool } from './task-sources/evolving-pool.js';
export type { InspoOptions, InstructionStats } from './task-sources/inspo.js';
export {
  inspo,
  inspoPopulation,
  instructionProbabilities,
  instructionWeights,
  mergePopulation,
  openInspo,
} from './task-sources/inspo.js';
export type { PrioritizedOptions, PriorityScore } from './task-sources/prioritized.js';
export { prioritized, priorityOf } from './task-sources/prioritized.js';
export type { TranslationData } from './translate/data.js';
export { loadTranslationData } from './translate/data.js';
export type { DictionaryEntry, Lexicon } from './translate/language.js';
export { buildDictionary, buildLexicon } from './translate/language.js';
export { extractTranslation, lookup as dictionaryLookup } from './translate/tool.js';
export type { TranslateOptions, TranslateTask } from './translate/translate.js';
export { translate } from './translate/translate.js';
export type { PreferenceBuilder, RankedCandidates } from './urpo/ranking.js';
export {
  bordaPoints,
  countdownCandidates,
  parseRanking,
  preferenceBuilder,
  rankingAgreement,
  rankMarker,
  rankPrompt,
} from './urpo/ranking.js';
export type { SelfRefereeOptions } from './urpo/self-referee.js';
export { selfReferee, selfScores } from './urpo/self-referee.js';
export type { OpenTask, RankItem, RankTask, UrpoMixOptions, UrpoTaskOptions } from './urpo/urpo.js';
export { isOpenTask, isRankTask, rankItem, urpoMix, withUrpoTasks } from './urpo/urpo.js';
export type { CatalogProduct, WebshopTask } from './webshop/catalog.js';
export type { WebshopGoal, WebshopProduct, WebshopRewardInput, WebshopRewardResult } from './webshop/reward.js';
export { normalizeColor, optionReward, webshopReward } from './webshop/reward.js';
export type { WebshopOptions } from './webshop/webshop.js';
export { parseWebshopAction, webshop } from './webshop/webshop.js';

/** Registered by discovery like any third-party plugin package. */
export const plugin: Plugin = {
  name: '@policy-lab/envs',
  environments: [
    countdown(),
    arithmetic(),
    gridnav(),
    translate(),
    code(),
    webshop(),
    nextSegment(),
    policyJudge(),
    gridPacking(),
    longDocReader(),
  ],
  taskSources: [prioritized(), evolvingPool(), judgeTasks(), sparkSelfJudge(), urpoMix(), flowboostElites(), inspo()],
  samplers: [flowboostMask()],
  methods: [flowboostMethod()],
  estimators: [selfReferee()],
};
