import { defineConfig } from 'vitest/config';

// The PyTorch cross-checks (`*.torch.test.ts`): run by .ci/stages/torch-peer.sh after it installs
// Debian's python3-torch, never by the plain `npm test`.
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/src/**/*.torch.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
  },
});
