import { defineConfig } from 'vitest/config';

// Tests that a method acts on a run of minutes (`packages/*/acting/*.test.ts`): run by
// .ci/stages/spark-acting.sh, never by the plain `npm test` (its projects include src/ only).
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/acting/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 1_800_000,
  },
});
