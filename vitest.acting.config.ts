import { defineConfig } from 'vitest/config';

// The acting tests (`*.acting.test.ts`: a method's claim shown on a short training run, minutes
// each): run by .ci/stages/urpo-acting.sh, never by the plain `npm test`.
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/src/**/*.acting.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
