import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One project per package folder (generated packages included); workspace packages resolve
// to their TypeScript sources through the '@policy-lab/source' export condition, so tests
// never need a rebuild. Folders are found from this file, not the working folder, so a
// package's own `npm test` (`vitest run --root ../.. --project <name>`) works from its folder.
const root = fileURLToPath(new URL('.', import.meta.url));
const packagesDir = `${root}packages`;
const packages = readdirSync(packagesDir).filter((name) => existsSync(`${packagesDir}/${name}/package.json`));

const tools = {
  extends: true,
  test: {
    name: 'tools',
    root: `${root}tools`,
    include: ['**/*.test.mjs'],
    exclude: ['.tmp/**', 'node_modules/**'],
    pool: 'forks' as const,
    testTimeout: 60_000,
  },
};

/** The tests of one package folder (or a part of them), as a vitest project. */
function packageProject(folder: string, name: string, include: string[], exclude: string[]) {
  return {
    extends: true,
    test: {
      name,
      root: `${packagesDir}/${folder}`,
      include,
      // WebGPU parity tests need a Vulkan driver, the BullMQ tests a Redis and the PyTorch
      // cross-checks python3-torch, the acting tests minutes of training: their CI stages run them.
      exclude: [
        'src/**/*.gpu.test.ts',
        'src/**/*.redis.test.ts',
        'src/**/*.torch.test.ts',
        'src/**/*.acting.test.ts',
        ...exclude,
      ],
      pool: 'forks' as const,
      // A fresh process per test file costs about 4 s of imports (tfjs, wasm, the registry) and
      // was most of the suite's time; a project's files share a worker instead. The trainer's tests
      // choose, replace and fail tfjs backends on purpose, which only a fresh process allows.
      isolate: folder === 'trainer',
      testTimeout: 60_000,
    },
  };
}

export default defineConfig({
  root,
  resolve: { conditions: ['@policy-lab/source'] },
  ssr: { resolve: { conditions: ['@policy-lab/source'], externalConditions: ['@policy-lab/source'] } },
  test: {
    // vitest's default is one worker fewer than the cores (one worker on this project's 2-core CI
    // machine), which left a core idle for the whole suite; the main process mostly waits.
    maxWorkers: availableParallelism(),
    projects: [
      tools,
      ...packages.flatMap((name) =>
        // The bench catalog (every plugin trained on every environment) is a project of its own,
        // so its files run beside the rest of bench's instead of after them in the same worker.
        name === 'bench'
          ? [
              packageProject(name, `@policy-lab/${name}`, ['src/**/*.test.ts'], ['src/catalog*.test.ts']),
              packageProject(name, `@policy-lab/${name}-catalog`, ['src/catalog*.test.ts'], []),
            ]
          : [packageProject(name, `@policy-lab/${name}`, ['src/**/*.test.ts'], [])],
      ),
    ],
  },
});
