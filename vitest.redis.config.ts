import { defineConfig } from 'vitest/config';

// The BullMQ tests (`*.redis.test.ts`): run by .ci/stages/redis.sh against a redis-server it
// starts on a loopback port, never by the plain `npm test`.
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/src/**/*.redis.test.ts'],
    pool: 'forks',
    testTimeout: 240_000,
  },
});
