import { defineConfig } from 'vitest/config';

// The acting tests (`*.acting.test.ts`: a method's claim shown on a training run of minutes):
// run by their CI stages (.ci/stages/urpo-acting.sh, spark-acting.sh), never by the plain `npm test`.
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/src/**/*.acting.test.ts'],
    pool: 'forks',
    testTimeout: 1_800_000,
    hookTimeout: 120_000,
  },
});
