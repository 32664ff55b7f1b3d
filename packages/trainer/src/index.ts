export type { BackendInfo, BackendName, BackendOptions, KernelChoice } from './backend/select-backend.js';
export { BACKENDS, backendInfo, initBackend, KERNELS } from './backend/select-backend.js';
export type { DecodeOptions, FloatDtype, NamedTensor } from './checkpoint/safetensors.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  FLOAT_DTYPES,
  loadSafetensors,
  safetensorsNames,
  saveSafetensors,
  writeFileAtomic,
} from './checkpoint/safetensors.js';
export type { WebgpuAdapterInfo, WebgpuHandle, WebgpuOptions } from './gpu/webgpu.js';
export { initWebgpu } from './gpu/webgpu.js';
export type { ChatTemplateMode } from './hf/chat-template.js';
export type { HfArchitecture, RopeScaling } from './hf/config.js';
export { ACCEPTED_MODEL_TYPES, HF_MODEL_TYPES, parseHfConfig, ROPE_SCALING_TYPES, rotaryFrequencies } from './hf/config.js';
export type { ModelFingerprint } from './hf/fingerprint.js';
export { changedModelFiles, fileSha256, modelFingerprint } from './hf/fingerprint.js';
export type { LoraOptions } from './hf/lora.js';
export { ADAPTER_CONFIG, ADAPTER_WEIGHTS, LORA_TARGETS, LoraAdapters } from './hf/lora.js';
export type { HfMemoryEstimate, HfMemoryPlan } from './hf/memory.js';
export { estimateHfMemory, loraParameters, parameterCount, WASM_HEAP_BYTES, whyItDoesNotFit } from './hf/memory.js';
export type { HfCache, HfGenerateOptions, LowRankAdapters } from './hf/model.js';
export { disposeCache as disposeHfCache, HfCausalLM, loadHfModel } from './hf/model.js';
export { HfPolicy } from './hf/policy.js';
export { HfPolicyTokenizer } from './hf/policy-tokenizer.js';
export type { HfModelOption, HfModelReport, HfRun } from './hf/run.js';
export { backendMemory, checkHfRun, openHfRun, openHfSpeedPolicy } from './hf/run.js';
export type { TinyHfKind, TinyHfOptions } from './hf/tiny-checkpoints.js';
export {
  CHATML_TEMPLATE,
  TINY_HF_DEFAULTS,
  TINY_HF_KINDS,
  tinyHfConfig,
  tinyHfTensors,
  writeTinyHfCheckpoint,
} from './hf/tiny-checkpoints.js';
export type { ChatMessage } from './hf/tokenizer.js';
export { HfTokenizer, loadHfTokenizer } from './hf/tokenizer.js';
export type { LoadedTensors, TensorLayout, TensorSpec } from './hf/weights.js';
export { readHfTensors, tensorSpecs } from './hf/weights.js';
export type { FastKernelStatus } from './kernels/fast-kernels.js';
export { installFastKernels, restoreStockKernels } from './kernels/fast-kernels.js';
export type { ThreadedWasmSetup } from './kernels/threaded-wasm.js';
export { prepareThreadedWasm } from './kernels/threaded-wasm.js';
export type {
  CurvePoint,
  EvalResult,
  JudgeAccuracy,
  RunExtensions,
  TrainOptions,
  TrainProgress,
  TrainResult,
} from './loop/api.js';
export type { CheckpointPolicy } from './loop/checkpoint-policy.js';
export { loadCheckpointPolicy } from './loop/checkpoint-policy.js';
export { DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from './loop/config.js';
export type { CreditedAnswer, CreditMap } from './loop/credit-map.js';
export { creditAnswers, creditMapOfRun } from './loop/credit-map.js';
export type { PreferencePair, UnpairedExample } from './loop/data.js';
export { parsePreferenceData, parsePreferenceJsonl } from './loop/data.js';
export { OPTION_READERS, readersOf } from './loop/option-readers.js';
export { pairsFromGroups } from './loop/pairs.js';
export { unreadOptions, whyUnfit } from './loop/plugins.js';
export type { OwnedRewardModel } from './loop/reward-models.js';
export { buildRewardModel } from './loop/reward-models.js';
export type { HeldLock, LockAttempt, LockOwner, WaitOptions } from './loop/run-lock.js';
export { describeOwner, folderLockFile, holdFolder, ownerState, tryLock, waitForLock } from './loop/run-lock.js';
export { train } from './loop/train.js';
export { labelledFromGroups, mismatchedRows, unpair } from './loop/unpaired.js';
export type {
  CispoOptions,
  DppoOptions,
  DroOptions,
  GmpoOptions,
  SapoOptions,
  TrlClipOptions,
  VespoOptions,
} from './losses/catalog.js';
export {
  catalogLosses,
  cispoTrl,
  cispoVerl,
  dppoKl,
  dppoTv,
  dro,
  gmpo,
  sapo,
  trlClip,
  vespo,
  vespoWeight,
} from './losses/catalog.js';
export type { PpoClipOptions } from './losses/ppo-clip.js';
export { ppoClip, reinforce } from './losses/ppo-clip.js';
export type { GenerateOptions, Generation, PolicyConfig, PolicyModel, ScoredTokens } from './model/policy.js';
export { createPolicy, TransformerPolicy } from './model/transformer.js';
export type { AdamOptions, AdamState } from './optim/adam.js';
export { Adam, clipByGlobalNorm } from './optim/adam.js';
export { plugin } from './plugin.js';
export { beam, builtinSamplers, keepTopK, keepTopP, topIds, topK, topP, tree, valueGuided } from './samplers/samplers.js';
export type { KernelTime, WorkloadProfile } from './speed/profile.js';
export { profileWorkload } from './speed/profile.js';
export type { ModelShape, Workload } from './speed/reference.js';
export { referenceDecode, referenceRollouts, referenceTrainStep } from './speed/reference.js';
export type { RlStepRecord, RlStepSetup } from './speed/rl-step.js';
export { resolveRlStep, rlStep } from './speed/rl-step.js';
export type { TokenizerJson } from './tokenizer/char-tokenizer.js';
export { BOS, CHAR_SPECIALS, CharTokenizer, EOS, PAD, SEP, SPECIAL_TOKENS, UNK } from './tokenizer/char-tokenizer.js';
export type { PolicyTokenizer, SpecialIds } from './tokenizer/policy-tokenizer.js';
