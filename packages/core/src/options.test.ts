import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSetOptions, resolveOptions } from './options.js';

describe('--set parsing', () => {
  it('parses JSON values when valid and strings otherwise, nesting dotted keys', () => {
    expect(
      parseSetOptions(['lr=3e-4', 'std=population', 'weights.correct=2', 'weights.format=0.5', 'flag=true', 'list=[1,2]']),
    ).toEqual({
      lr: 3e-4,
      std: 'population',
      weights: { correct: 2, format: 0.5 },
      flag: true,
      list: [1, 2],
    });
    expect(parseSetOptions(['text=a=b'])).toEqual({ text: 'a=b' });
  });

  it('rejects entries without a key or with prototype keys', () => {
    expect(() => parseSetOptions(['=3'])).toThrow(/expected key=value/);
    expect(() => parseSetOptions(['novalue'])).toThrow(/expected key=value/);
    expect(() => parseSetOptions(['__proto__.x=1'])).toThrow(/bad --set key/);
  });

  it('round-trips any JSON number', () => {
    // JSON has no negative zero, so -0 is left out.
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0));
    fc.assert(fc.property(finite, (x) => Object.is(parseSetOptions([`v=${JSON.stringify(x)}`]).v, x)));
  });
});

describe('resolveOptions', () => {
  const specs = {
    std: { type: 'enum', values: ['sample', 'population'], default: 'sample' },
    eps: { type: 'number', default: 1e-4 },
    g: { type: 'integer' },
  } as const;

  it('fills defaults and keeps given values', () => {
    expect(resolveOptions('grpo', specs, { eps: 0.1 })).toEqual({ std: 'sample', eps: 0.1 });
  });

  it('names the bad key or value and what is accepted', () => {
    expect(() => resolveOptions('grpo', specs, { sdt: 'x' })).toThrow("grpo: unknown option 'sdt'; accepted: std, eps, g");
    expect(() => resolveOptions('grpo', specs, { std: 'both' })).toThrow(
      /option 'std' must be one of sample, population, got "both"/,
    );
    expect(() => resolveOptions('grpo', specs, { g: 2.5 })).toThrow(/option 'g' must be an integer/);
  });
});
