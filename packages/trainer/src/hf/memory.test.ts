import { describe, expect, it } from 'vitest';
import { parseHfConfig } from './config.js';
import { estimateHfMemory, parameterCount, WASM_HEAP_BYTES, whyItDoesNotFit } from './memory.js';
import { tinyHfConfig } from './tiny-checkpoints.js';

// The architecture keys of three published config.json files (the rest does not change the shapes).
const SMOLLM2_135M = {
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 8192,
  tie_word_embeddings: true,
};
const QWEN25_05B = {
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  tie_word_embeddings: true,
};
const GPT2_SMALL = { model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024 };

describe('Hugging Face model memory', () => {
  it('counts the parameters the model cards publish', () => {
    expect(parameterCount(parseHfConfig(SMOLLM2_135M))).toBe(134_515_008);
    expect(parameterCount(parseHfConfig(QWEN25_05B))).toBe(494_032_768);
    expect(parameterCount(parseHfConfig(GPT2_SMALL))).toBe(124_439_808);
  });

  it('sizes weights, Adam state and the KV cache in float32', () => {
    const qwen = parseHfConfig(QWEN25_05B);
    const generation = estimateHfMemory(qwen, { rows: 8, sequenceLength: 512, training: false });
    expect(generation.bytes.weights).toBe(494_032_768 * 4);
    expect(generation.bytes.gradients + generation.bytes.optimizer).toBe(0);
    // 8 rows x 24 layers x (keys, values) x 2 heads x 64 dims x 512 positions x 4 bytes.
    expect(generation.bytes.kvCache).toBe(8 * 24 * 2 * 128 * 512 * 4);
    const training = estimateHfMemory(qwen, { rows: 8, sequenceLength: 512, training: true });
    expect(training.bytes.optimizer).toBe(2 * training.bytes.weights);
    expect(training.bytes.activations).toBeGreaterThan(generation.bytes.activations);
    expect(training.bytes.total).toBeGreaterThan(4 * training.bytes.weights);
  });

  it('says what does not fit the wasm heap and which smaller plan would', () => {
    const tiny = parseHfConfig(tinyHfConfig('llama'));
    expect(whyItDoesNotFit(tiny, { rows: 8, sequenceLength: 64, training: true }, WASM_HEAP_BYTES)).toBeUndefined();

    const qwen = parseHfConfig(QWEN25_05B);
    const full = whyItDoesNotFit(qwen, { rows: 8, sequenceLength: 512, training: true }, WASM_HEAP_BYTES);
    // Weights, gradients and two moments of 0.49 B float32 parameters alone exceed 4 GiB.
    expect(full).toMatch(
      /^494032768 parameters need about \d+\.\d\d GiB \(weights 1\.84 GiB, gradients 1\.84 GiB, Adam moments 3\.68 GiB/,
    );
    expect(full).toMatch(/more than the 4\.00 GiB available; would fit: generation only \(no fine-tuning\)$/);
    // Shorter sequences: LoRA on q_proj and v_proj (24 layers x rank 8 x (896 + 896 + 896 + 128)) with fewer rows fits.
    const short = whyItDoesNotFit(qwen, { rows: 8, sequenceLength: 64, training: true }, WASM_HEAP_BYTES) as string;
    const lora =
      /LoRA \(--lora rank=8,alpha=16,targets=q_proj,v_proj: 540672 trained parameters\) with (\d+) rows at a time/.exec(short);
    expect(lora).not.toBeNull();
    const loraPlan = { rows: Number(lora?.[1]), sequenceLength: 64, training: true, trainedParameters: 540_672 };
    expect(whyItDoesNotFit(qwen, loraPlan, WASM_HEAP_BYTES)).toBeUndefined();
    expect(whyItDoesNotFit(qwen, { ...loraPlan, rows: loraPlan.rows + 1 }, WASM_HEAP_BYTES)).toBeDefined();

    const smol = parseHfConfig(SMOLLM2_135M);
    const plan = { rows: 8, sequenceLength: 256, training: true };
    const message = whyItDoesNotFit(smol, plan, WASM_HEAP_BYTES) as string;
    const rows = Number(/would fit: (\d+) rows at a time instead of 8/.exec(message)?.[1]);
    expect(rows).toBeGreaterThanOrEqual(1);
    expect(whyItDoesNotFit(smol, { ...plan, rows }, WASM_HEAP_BYTES)).toBeUndefined();
    expect(whyItDoesNotFit(smol, { ...plan, rows: rows + 1 }, WASM_HEAP_BYTES)).toBeDefined();
    const length = Number(/sequences of at most (\d+) tokens/.exec(message)?.[1]);
    expect(whyItDoesNotFit(smol, { ...plan, sequenceLength: length }, WASM_HEAP_BYTES)).toBeUndefined();
  });
});
