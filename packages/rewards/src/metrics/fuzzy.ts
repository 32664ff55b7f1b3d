/**
 * thefuzz's `token_set_ratio` (0-100), the fuzzy match WebShop's reward uses for attributes,
 * through `fuzzball`, a maintained port of thefuzz (it matched on every pair tried).
 */
import { token_set_ratio } from 'fuzzball';

export function tokenSetRatio(a: string, b: string): number {
  return token_set_ratio(a, b);
}
