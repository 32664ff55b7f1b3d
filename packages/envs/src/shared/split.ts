/**
 * Train/test membership decided by a hash of the task's content, not by the seed, so the
 * two splits never share a task whatever seeds a run uses.
 */

/** FNV-1a over the UTF-16 units of a key. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** One task in `every` belongs to the test split. */
export function isTestKey(key: string, every = 5): boolean {
  return fnv1a(key) % every === 0;
}

/**
 * Draws tasks until `count` of the wanted split exist (distinct keys), or gives up after
 * `count * maxAttemptsPerTask` draws (small difficulty settings have few distinct tasks).
 */
export function drawSplit<T>(
  split: 'train' | 'test',
  count: number,
  draw: () => T | undefined,
  key: (task: T) => string,
  maxAttemptsPerTask = 200,
): T[] {
  const out: T[] = [];
  const seen = new Set<string>();
  for (let attempts = 0; out.length < count && attempts < count * maxAttemptsPerTask; attempts++) {
    const task = draw();
    if (task === undefined) continue;
    const k = key(task);
    if (isTestKey(k) !== (split === 'test') || seen.has(k)) continue;
    seen.add(k);
    out.push(task);
  }
  return out;
}
