/**
 * `--model <folder>` and `--lora [rank=8,alpha=16,targets=q_proj,v_proj]`: train a user's Hugging
 * Face model, fully or through LoRA adapters (Hu et al. 2021, arXiv:2106.09685). Without
 * `targets` LoRA adapts the attention's query and value projections (GPT-2: c_attn), the choice
 * of the LoRA paper's GPT-3 experiments. `--chat-template auto|off`: prompts through the folder's
 * chat template when it has one (auto, the default), or as plain text (off).
 */
import path from 'node:path';
import { UsageError } from '@policy-lab/core';
import type { ChatTemplateMode, HfModelOption } from '@policy-lab/trainer';

const CHAT_TEMPLATE_MODES: readonly ChatTemplateMode[] = ['auto', 'off'];

/** `--chat-template`'s value, refused by name unless it is one of CHAT_TEMPLATE_MODES. */
export function parseChatTemplate(value: string): ChatTemplateMode {
  if (!(CHAT_TEMPLATE_MODES as readonly string[]).includes(value))
    throw new UsageError(`bad --chat-template '${value}' (accepted: ${CHAT_TEMPLATE_MODES.join(', ')})`);
  return value as ChatTemplateMode;
}

const LORA_KEYS = ['rank', 'alpha', 'targets'] as const;

/** rank, alpha and targets of `--lora`; a bare `--lora` (true) takes the defaults. */
export function parseLora(spec: string | true): { rank: number; alpha: number; targets?: string[] } {
  const values: Record<string, string[]> = {};
  let key: string | undefined;
  for (const piece of spec === true ? [] : spec.split(',')) {
    const at = piece.indexOf('=');
    // A piece without '=' continues the list before it (targets=q_proj,v_proj).
    if (at < 0 && key === 'targets' && piece.trim()) {
      values.targets?.push(piece.trim());
      continue;
    }
    key = at < 0 ? piece : piece.slice(0, at).trim();
    if (!(LORA_KEYS as readonly string[]).includes(key))
      throw new UsageError(`bad --lora '${spec}': unknown key '${key}' (accepted: ${LORA_KEYS.join(', ')})`);
    values[key] = [piece.slice(at + 1).trim()];
  }
  const number = (name: 'rank' | 'alpha', fallback: number, integer: boolean) => {
    const text = values[name]?.[0];
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value))))
      throw new UsageError(`bad --lora ${name} '${text}': expected a positive ${integer ? 'integer' : 'number'}`);
    return value;
  };
  const targets = values.targets?.filter(Boolean);
  return {
    rank: number('rank', 8, true),
    alpha: number('alpha', 16, false),
    ...(targets && targets.length > 0 ? { targets } : {}),
  };
}

/** The trainer's model option from the CLI's flags; undefined without --model (`--lora` alone is refused). */
export function modelOption(
  cwd: string,
  model: string | undefined,
  lora: string | true | undefined,
  chatTemplate?: string,
): HfModelOption | undefined {
  const chat = chatTemplate === undefined ? undefined : parseChatTemplate(chatTemplate);
  if (model === undefined) {
    if (lora !== undefined) throw new UsageError('--lora needs --model <folder> (LoRA adapts a Hugging Face model)');
    if (chat !== undefined) throw new UsageError('--chat-template needs --model <folder> (a Hugging Face model folder)');
    return undefined;
  }
  return {
    folder: path.resolve(cwd, model),
    ...(lora !== undefined ? { lora: parseLora(lora) } : {}),
    ...(chat !== undefined ? { chatTemplate: chat } : {}),
  };
}
