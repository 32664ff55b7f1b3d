/**
 * The content fingerprint of a Hugging Face model folder: the sha256 of every file the loader
 * and the tokenizer read (config.json, the safetensors shards and their index, the tokenizer's
 * files, a chat template file), streamed in 1 MiB chunks so a large checkpoint is never held in
 * memory twice. A run's checkpoint carries it, so `--resume` continues only on the same model,
 * wherever the folder now lies; a comparison's fingerprint carries it too.
 *
 * Cost: hashing reads every byte of the weights once more (they are then in the page cache from
 * loading); docs/models.md gives the rate measured here.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '@policy-lab/core';

/** The files of a model folder that make the model: what the loader, the tokenizer and a chat template read. */
const MODEL_FILES =
  /^(config\.json|generation_config\.json|.*\.safetensors|.*\.safetensors\.index\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|added_tokens\.json|vocab\.json|merges\.txt|chat_template\.(jinja|json))$/;

export interface ModelFingerprint {
  /** sha256 (hex) of each model file, by its name in the folder. */
  files: Record<string, string>;
}

/** sha256 of a file, read in chunks. */
export function fileSha256(file: string, chunkBytes = 1 << 20): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(chunkBytes);
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function modelFingerprint(folder: string): ModelFingerprint {
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new UsageError(`--model ${folder}: not a folder (accepted: a Hugging Face model folder)`);
  const names = readdirSync(folder)
    .filter((name) => MODEL_FILES.test(name) && statSync(path.join(folder, name)).isFile())
    .sort();
  return { files: Object.fromEntries(names.map((name) => [name, fileSha256(path.join(folder, name))])) };
}

/** The files that differ between two fingerprints (added, removed or changed), by name; empty when the same. */
export function changedModelFiles(saved: ModelFingerprint, now: ModelFingerprint): string[] {
  const names = [...new Set([...Object.keys(saved.files), ...Object.keys(now.files)])].sort();
  return names.flatMap((name) => {
    const before = saved.files[name];
    const after = now.files[name];
    if (before === after) return [];
    if (before === undefined) return [`${name} (added)`];
    if (after === undefined) return [`${name} (removed)`];
    return [`${name} (sha256 ${before.slice(0, 12)} -> ${after.slice(0, 12)})`];
  });
}
