/**
 * A tiny, safe parser for arithmetic answers: integers, + - * /, parentheses, spaces.
 * Never evaluates code; returns undefined for anything that is not a well-formed expression.
 */
export interface ParsedExpression {
  value: number;
  /** The integer literals in order of appearance. */
  numbers: number[];
}

export function parseExpression(text: string): ParsedExpression | undefined {
  const source = text.replace(/\s+/g, '');
  if (source.length === 0 || source.length > 64 || !/^[0-9+\-*/()]+$/.test(source)) return undefined;
  let position = 0;
  const numbers: number[] = [];

  const peek = () => source[position];
  function expression(): number | undefined {
    let left = term();
    while (left !== undefined && (peek() === '+' || peek() === '-')) {
      const op = source[position++];
      const right = term();
      if (right === undefined) return undefined;
      left = op === '+' ? left + right : left - right;
    }
    return left;
  }
  function term(): number | undefined {
    let left = factor();
    while (left !== undefined && (peek() === '*' || peek() === '/')) {
      const op = source[position++];
      const right = factor();
      if (right === undefined) return undefined;
      if (op === '/' && right === 0) return undefined;
      left = op === '*' ? left * right : left / right;
    }
    return left;
  }
  function factor(): number | undefined {
    if (peek() === '(') {
      position++;
      const inner = expression();
      if (inner === undefined || peek() !== ')') return undefined;
      position++;
      return inner;
    }
    const match = /^[0-9]+/.exec(source.slice(position));
    if (!match) return undefined;
    position += match[0].length;
    const value = Number(match[0]);
    numbers.push(value);
    return value;
  }

  const value = expression();
  if (value === undefined || position !== source.length || !Number.isFinite(value)) return undefined;
  return { value, numbers };
}
