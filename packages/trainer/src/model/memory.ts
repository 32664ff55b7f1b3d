/**
 * Floats of one pass's attention scores (rows x heads x T x T) the trainer and the sampler aim
 * for: 8M (32 MB a layer). Long-context environments (webshop, translate: T = 512) would
 * otherwise run tfjs-wasm out of heap, which shows as a wasm trap ("table index is out of
 * bounds", "memory access out of bounds", "null function"), not as an out-of-memory error.
 */
export const ATTENTION_FLOATS = 8 * 1024 * 1024;

/** Rows per pass: at most `cap`, fewer when T-token rows would pass ATTENTION_FLOATS. */
export function rowsWithinAttention(T: number, heads: number, cap: number): number {
  const t = Math.max(1, T);
  return Math.max(1, Math.min(cap, Math.floor(ATTENTION_FLOATS / (Math.max(1, heads) * t * t))));
}
