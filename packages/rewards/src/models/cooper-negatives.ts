/**
 * Cooper's negatives (arXiv 2508.05613): a plausible wrong answer made from a rule-verified
 * correct one. The paper asks an assistant LLM to rewrite the positive into a wrong response and
 * keeps the rewrite only when the math verifier says it differs (released code:
 * recipe/cooper/collaborate.py, at most 3 tries, else the pair is invalid). Here a deterministic
 * corruption rule per environment stands in for the assistant LLM, and the environment's own
 * verifier decides, as there, whether a candidate is wrong.
 */
import type { Rng } from '@policy-lab/core';

/** One candidate rewrite of a correct answer (undefined: the rule found nothing to change). */
export type Corruption = (answer: string, rng: Rng) => string | undefined;

const OPERATORS = ['+', '-', '*', '/'] as const;

/**
 * Countdown: change one operand (to another number of 1..99) or one operator (to another of
 * + - * /) of the equation, keeping its shape, so it stays a plausible equation over almost the
 * same numbers.
 */
export const corruptEquation: Corruption = (answer, rng) => {
  const pieces = answer.match(/[0-9]+|[+\-*/]|[()]|\s+/g);
  if (!pieces || pieces.join('') !== answer) return undefined;
  const operands = pieces.flatMap((p, i) => (/^[0-9]+$/.test(p) ? [i] : []));
  const operators = pieces.flatMap((p, i) => ((OPERATORS as readonly string[]).includes(p) ? [i] : []));
  if (operands.length === 0) return undefined;
  const out = [...pieces];
  if (operators.length > 0 && rng.next() < 0.5) {
    const at = rng.pick(operators);
    out[at] = rng.pick(OPERATORS.filter((op) => op !== pieces[at]));
  } else {
    const at = rng.pick(operands);
    const value = Number(pieces[at]);
    // Another number of 1..99 (never the same one).
    const shift = rng.int(1, 98);
    out[at] = String(((value - 1 + shift) % 99) + 1);
  }
  return out.join('');
};

/**
 * Arithmetic word problems: change the final answer (the last number of the response, GSM8K's
 * `#### n`) to another non-negative number near it, the wrong conclusion of an otherwise copied
 * solution.
 */
export const corruptFinalNumber: Corruption = (answer, rng) => {
  const numbers = [...answer.matchAll(/[0-9]+/g)];
  const last = numbers.at(-1);
  if (!last || last.index === undefined) return undefined;
  const value = Number(last[0]);
  const shift = rng.int(1, 9);
  const changed = value - shift >= 0 && rng.next() < 0.5 ? value - shift : value + shift;
  return `${answer.slice(0, last.index)}${changed}${answer.slice(last.index + last[0].length)}`;
};

/** The corruption rule of each environment that has one, by environment name. */
export const CORRUPTIONS: Readonly<Record<string, Corruption>> = {
  countdown: corruptEquation,
  arithmetic: corruptFinalNumber,
};

/**
 * A negative for `positive`: the first of `tries` corruptions that the verifier calls wrong
 * (undefined when none is: the pair is masked, as the released code drops a failed rewrite).
 */
export function negativeOf(
  positive: string,
  corrupt: Corruption,
  isCorrect: (answer: string) => boolean,
  rng: Rng,
  tries = 3,
): string | undefined {
  for (let t = 0; t < tries; t++) {
    const candidate = corrupt(positive, rng.split(`try/${t}`));
    if (candidate !== undefined && candidate !== positive && !isCorrect(candidate)) return candidate;
  }
  return undefined;
}
