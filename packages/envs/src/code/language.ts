/**
 * The code environment's language: integer expressions over `x` with comparisons, a
 * conditional and self-recursion through `f(...)`. Small enough for a character-level policy,
 * rich enough to write programs that never stop (`f(x)`), which the step limit catches.
 *
 *   expr  := cmp ('?' expr ':' expr)?
 *   cmp   := sum (('<' | '>' | '=') sum)?          comparisons give 1 or 0
 *   sum   := term (('+' | '-') term)*
 *   term  := unary (('*' | '/' | '%') unary)*     '/' and '%' truncate toward zero, as in C
 *   unary := '-' unary | atom
 *   atom  := integer | 'x' | 'f' '(' expr ')' | '(' expr ')'
 */

export type Node =
  | { kind: 'num'; value: number }
  | { kind: 'x' }
  | { kind: 'call'; arg: Node }
  | { kind: 'neg'; arg: Node }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '%' | '<' | '>' | '='; left: Node; right: Node }
  | { kind: 'if'; cond: Node; then: Node; else: Node };

const MAX_SOURCE = 200;

/** Parses a program, or returns the reason it does not parse. */
export function parseProgram(source: string): { ok: true; program: Node } | { ok: false; error: string } {
  if (source.length > MAX_SOURCE) return { ok: false, error: `longer than ${MAX_SOURCE} characters` };
  const tokens = source.match(/\d+|[a-z]+|\S/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected?: string) => {
    const token = tokens[at];
    if (token === undefined || (expected !== undefined && token !== expected))
      throw new SyntaxError(`expected ${expected ?? 'more input'} at token ${at + 1}, got ${token ?? 'the end'}`);
    at++;
    return token;
  };
  let depth = 0;
  const expr = (): Node => {
    if (++depth > 60) throw new SyntaxError('nested too deeply');
    const cond = cmp();
    let node = cond;
    if (peek() === '?') {
      take('?');
      const then = expr();
      take(':');
      node = { kind: 'if', cond, then, else: expr() };
    }
    depth--;
    return node;
  };
  const cmp = (): Node => {
    const left = sum();
    const op = peek();
    if (op === '<' || op === '>' || op === '=') {
      take();
      return { kind: 'bin', op, left, right: sum() };
    }
    return left;
  };
  const sum = (): Node => {
    let node = term();
    for (let op = peek(); op === '+' || op === '-'; op = peek()) {
      take();
      node = { kind: 'bin', op, left: node, right: term() };
    }
    return node;
  };
  const term = (): Node => {
    let node = unary();
    for (let op = peek(); op === '*' || op === '/' || op === '%'; op = peek()) {
      take();
      node = { kind: 'bin', op, left: node, right: unary() };
    }
    return node;
  };
  const unary = (): Node => {
    if (peek() === '-') {
      take();
      return { kind: 'neg', arg: unary() };
    }
    return atom();
  };
  const atom = (): Node => {
    const token = take();
    if (/^\d+$/.test(token)) return { kind: 'num', value: Number(token) };
    if (token === 'x') return { kind: 'x' };
    if (token === 'f') {
      take('(');
      const arg = expr();
      take(')');
      return { kind: 'call', arg };
    }
    if (token === '(') {
      const inner = expr();
      take(')');
      return inner;
    }
    throw new SyntaxError(`unexpected '${token}' at token ${at}`);
  };
  try {
    if (tokens.length === 0) return { ok: false, error: 'empty program' };
    const program = expr();
    if (at < tokens.length) return { ok: false, error: `unexpected '${tokens[at]}' at token ${at + 1}` };
    return { ok: true, program };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

export type RunResult = { ok: true; value: number } | { ok: false; error: 'step limit' | 'division by zero' | 'overflow' };

class Halt extends Error {
  constructor(readonly reason: 'step limit' | 'division by zero' | 'overflow') {
    super(reason);
  }
}

/**
 * Nested evaluations allowed at once. Calls nest inside arguments (`f(f(f(x)))`), so the
 * call depth alone does not bound the JavaScript stack: 200 calls of a 59-deep argument
 * overflowed it. 1000 frames stay far below any Node stack; the hard family needs under 100.
 */
const MAX_FRAMES = 1000;

/**
 * Evaluates `program` at `x`; more than `stepLimit` node evaluations, calls nested deeper than
 * `maxDepth` or evaluations nested deeper than MAX_FRAMES fail with 'step limit'.
 */
export function runProgram(program: Node, x: number, stepLimit = 5000, maxDepth = 200): RunResult {
  let steps = 0;
  let frames = 0;
  const evaluate = (node: Node, arg: number, depth: number): number => {
    if (++steps > stepLimit || ++frames > MAX_FRAMES) throw new Halt('step limit');
    try {
      return evaluateNode(node, arg, depth);
    } finally {
      frames--;
    }
  };
  const evaluateNode = (node: Node, arg: number, depth: number): number => {
    switch (node.kind) {
      case 'num':
        return node.value;
      case 'x':
        return arg;
      case 'neg':
        return -evaluate(node.arg, arg, depth);
      case 'call':
        if (depth >= maxDepth) throw new Halt('step limit');
        return evaluate(program, evaluate(node.arg, arg, depth), depth + 1);
      case 'if':
        return evaluate(node.cond, arg, depth) !== 0 ? evaluate(node.then, arg, depth) : evaluate(node.else, arg, depth);
      case 'bin': {
        const a = evaluate(node.left, arg, depth);
        const b = evaluate(node.right, arg, depth);
        let value: number;
        switch (node.op) {
          case '+':
            value = a + b;
            break;
          case '-':
            value = a - b;
            break;
          case '*':
            value = a * b;
            break;
          case '/':
          case '%':
            if (b === 0) throw new Halt('division by zero');
            value = node.op === '/' ? Math.trunc(a / b) : a % b;
            break;
          case '<':
            return a < b ? 1 : 0;
          case '>':
            return a > b ? 1 : 0;
          default:
            return a === b ? 1 : 0;
        }
        if (!Number.isSafeInteger(value)) throw new Halt('overflow');
        return value === 0 ? 0 : value; // no -0
      }
    }
  };
  try {
    return { ok: true, value: evaluate(program, x, 0) };
  } catch (error) {
    if (error instanceof Halt) return { ok: false, error: error.reason };
    throw error;
  }
}
