import { defineConfig } from 'vitest/config';

// The WebGPU parity tests (`*.gpu.test.ts`): run by .ci/stages/webgpu.sh after it installs
// a CPU Vulkan driver (lavapipe), never by the plain `npm test`.
export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    include: ['packages/*/src/**/*.gpu.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
