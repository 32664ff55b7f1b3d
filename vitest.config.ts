import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One project per package folder (generated packages included); workspace packages resolve
// to their TypeScript sources through the '@policy-lab/source' export condition, so tests
// never need a rebuild.
const packages = readdirSync('packages').filter((name) => existsSync(`packages/${name}/package.json`));

const tools = {
  extends: true,
  test: {
    name: 'tools',
    root: 'tools',
    include: ['**/*.test.mjs'],
    exclude: ['.tmp/**', 'node_modules/**'],
    pool: 'forks' as const,
    testTimeout: 60_000,
  },
};

export default defineConfig({
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    projects: [
      tools,
      ...packages.map((name) => ({
        extends: true,
        test: {
          name: `@policy-lab/${name}`,
          root: `packages/${name}`,
          include: ['src/**/*.test.ts'],
          // WebGPU parity tests need a Vulkan driver and the BullMQ tests a Redis: their CI stages run them.
          exclude: ['src/**/*.gpu.test.ts', 'src/**/*.redis.test.ts'],
          pool: 'forks',
          testTimeout: 60_000,
        },
      })),
    ],
  },
});
