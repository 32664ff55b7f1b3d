#!/usr/bin/env node
// Every package as a user gets it: `npm pack`, then a clean install of the tarball in a scratch
// project with the tarballs of the @policy-lab/* packages it depends on (the scope's registry is
// pointed at a closed loopback port, so @policy-lab/* can never come from a registry), an ESM
// import, a consumer type-checked with `skipLibCheck: false`, publint and arethetypeswrong.
//   node tools/scripts/pack-check.mjs [--report FILE] [package-folder-name ...]
// Each check of each package is one test in the report (the vitest JSON shape .ci/count.mjs sums).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const reportAt = args.indexOf('--report');
const reportFile = reportAt >= 0 ? args[reportAt + 1] : undefined;
const only = args.filter((_, i) => reportAt < 0 || (i !== reportAt && i !== reportAt + 1));
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');
// Packages with no tensor library: installing one must not bring TensorFlow.js (or the loader's jiti).
const TENSOR_FREE = new Set(['@policy-lab/core', '@policy-lab/advantage', '@policy-lab/rewards', '@policy-lab/envs']);

const all = new Map(
  readdirSync(path.join(root, 'packages'))
    .filter((dir) => existsSync(path.join(root, 'packages', dir, 'package.json')))
    .map((dir) => {
      const manifest = JSON.parse(readFileSync(path.join(root, 'packages', dir, 'package.json'), 'utf8'));
      return [manifest.name, { dir: path.join(root, 'packages', dir), manifest }];
    }),
);
const manifests = new Map([...all].filter(([, { dir }]) => only.length === 0 || only.includes(path.basename(dir))));

const work = mkdtempSync(path.join(tmpdir(), 'policy-lab-pack-'));
const tarballs = new Map();
function tarball(name) {
  if (!tarballs.has(name)) {
    const { dir } = all.get(name);
    const [info] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: dir, encoding: 'utf8' }),
    );
    tarballs.set(name, { file: path.join(work, info.filename), files: info.files.map((f) => f.path) });
  }
  return tarballs.get(name);
}

/** The package and every @policy-lab/* package it needs, transitively (optional peers excluded). */
function closure(name, seen = new Set()) {
  if (seen.has(name)) return seen;
  seen.add(name);
  const deps = all.get(name)?.manifest.dependencies ?? {};
  for (const dep of Object.keys(deps)) if (dep.startsWith('@policy-lab/')) closure(dep, seen);
  return seen;
}

const results = [];
// Each package's lines are printed together when its checks end (a few packages run at a time).
async function check(log, pkg, what, body) {
  const started = Date.now();
  try {
    const note = await body();
    results.push({ pkg, what, ok: true });
    log.push(`ok    ${pkg}: ${what}${note ? ` (${note})` : ''} [${((Date.now() - started) / 1000).toFixed(1)} s]`);
    return true;
  } catch (error) {
    results.push({ pkg, what, ok: false });
    const detail = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim() || error.message;
    log.push(`FAIL  ${pkg}: ${what}\n${detail.replace(/^/gm, '      ')}`);
    return false;
  }
}
/** Runs a command; resolves with its output, rejects (with the output) on a non-zero exit. */
function run(command, commandArgs, cwd, { allowFailure = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 || allowFailure) resolve(stdout);
      else reject(Object.assign(new Error(`${command} ${commandArgs.join(' ')} exited ${code}`), { stdout, stderr }));
    });
  });
}

/** Optional peers whose names the package's declaration files import: the consumer needs them to type-check. */
function peersTheTypesNeed(dir, manifest) {
  const peers = Object.keys(manifest.peerDependencies ?? {});
  const declarations = readdirSync(path.join(dir, 'dist'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => readFileSync(path.join(dir, 'dist', f), 'utf8'))
    .join('\n');
  return peers
    .filter((peer) => declarations.includes(`'${peer}'`) || declarations.includes(`"${peer}"`))
    .map((peer) => `${peer}@${manifest.peerDependencies[peer]}`);
}

// Packages whose README example needs nothing beyond the package's own install (divergences'
// needs a tfjs backend, trainer's trains for minutes with the environments installed).
const RUN_README_EXAMPLE = new Set(['@policy-lab/core', '@policy-lab/advantage']);

/** The first TypeScript block of the README's hand-written Use section, if any. */
function readmeExample(dir) {
  const text = readFileSync(path.join(dir, 'README.md'), 'utf8');
  const use = text.match(/<!-- hand-written:use -->([\s\S]*?)<!-- \/hand-written:use -->/)?.[1] ?? '';
  return use.match(/```ts\n([\s\S]*?)```/)?.[1];
}

async function checkPackage(name, { dir, manifest }) {
  const log = [];
  const { file, files } = tarball(name);
  await check(log, name, 'the tarball holds what it needs and no tests, test helpers or stray files', () => {
    for (const entry of manifest.files ?? []) {
      if (!entry.startsWith('!') && !existsSync(path.join(dir, entry)))
        throw new Error(`"files" lists ${entry}, which does not exist`);
    }
    const bad = files.filter((f) => /(^|\/)test-support([./]|$)|\.test\.|(^|\/)src\//.test(f));
    if (bad.length) throw new Error(`ships ${bad.join(', ')}`);
    for (const needed of ['package.json', 'README.md', 'LICENSE']) if (!files.includes(needed)) throw new Error(`no ${needed}`);
    if (readFileSync(path.join(dir, 'LICENSE'), 'utf8') !== license) throw new Error('LICENSE differs from the root LICENSE');
    for (const target of Object.values(manifest.bin ?? {})) {
      if (!files.includes(path.normalize(target))) throw new Error(`bin ${target} is not shipped`);
    }
    return `${files.length} files`;
  });

  const scratch = path.join(work, `use-${name.replace('@policy-lab/', '')}`);
  mkdirSync(scratch, { recursive: true });
  const optionalPeers = peersTheTypesNeed(dir, manifest);
  // The package and its @policy-lab/* dependencies as tarball files, forced by overrides so that
  // npm never asks a registry for one (the scope's registry is a closed loopback port as well).
  const ours = Object.fromEntries([...closure(name)].map((dep) => [dep, `file:${tarball(dep).file}`]));
  writeFileSync(
    path.join(scratch, 'package.json'),
    `${JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: ours, overrides: ours }, null, 2)}\n`,
  );
  const installed = await check(log, name, 'installs from its tarball and its @policy-lab/* tarballs alone', async () => {
    await run(
      'npm',
      [
        'install',
        // the consumer's own tools: its types for Node, and the optional peers that carry types
        `@types/node@${JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies['@types/node']}`,
        ...optionalPeers,
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--@policy-lab:registry=http://127.0.0.1:9/',
      ],
      scratch,
    );
    const lock = JSON.parse(readFileSync(path.join(scratch, 'package-lock.json'), 'utf8'));
    const ours = Object.entries(lock.packages).filter(([key]) => key.includes('node_modules/@policy-lab/'));
    const fromRegistry = ours.filter(([, entry]) => !String(entry.resolved ?? '').startsWith('file:'));
    if (fromRegistry.length) throw new Error(`resolved from a registry: ${fromRegistry.map(([key]) => key).join(', ')}`);
    const tree = Object.keys(lock.packages).filter((key) => key.startsWith('node_modules/'));
    if (TENSOR_FREE.has(name)) {
      const heavy = tree.filter((key) => /node_modules\/(@tensorflow\/|jiti$)/.test(key));
      if (heavy.length) throw new Error(`a tensor-free package installs ${heavy.join(', ')}`);
    }
    return `${tree.length} packages incl. @types/node${optionalPeers.length ? ` and ${optionalPeers.join(', ')}` : ''}`;
  });
  if (!installed) return log;

  const entries = Object.keys(manifest.exports ?? { '.': null })
    .filter((key) => key !== './package.json' && !key.includes('*'))
    .map((key) => (key === '.' ? name : `${name}/${key.slice(2)}`));
  await check(log, name, `imports from ESM (${entries.join(', ')})`, async () => {
    const script = entries
      .map(
        (spec, i) =>
          `const m${i} = await import(${JSON.stringify(spec)}); if (Object.keys(m${i}).length === 0) throw new Error(${JSON.stringify(`${spec} exports nothing`)});`,
      )
      .join('\n');
    const plugin = manifest['policy-lab']?.plugin === true ? `if (!m0.plugin?.name) throw new Error('no plugin export');` : '';
    writeFileSync(path.join(scratch, 'import.mjs'), `${script}\n${plugin}\n`);
    await run(process.execPath, ['import.mjs'], scratch);
  });

  await check(log, name, 'a consumer type-checks with skipLibCheck: false', async () => {
    writeFileSync(
      path.join(scratch, 'consumer.ts'),
      `${entries.map((spec, i) => `import * as m${i} from ${JSON.stringify(spec)};`).join('\n')}\nexport const surface: string[] = [${entries.map((_, i) => `...Object.keys(m${i})`).join(', ')}];\n`,
    );
    writeFileSync(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    // Errors inside third-party declarations (tfjs-core's own, @webgpu/types against lib.dom) are
    // theirs; ours are the consumer's and every @policy-lab/* declaration file, unresolved imports included.
    const stdout = await run(bin('tsc'), ['-p', 'tsconfig.json', '--pretty', 'false'], scratch, { allowFailure: true });
    const errors = stdout
      .split('\n')
      .filter((line) => /error TS\d+/.test(line))
      .filter((line) => !/^(.*\/)?node_modules\//.test(line) || /node_modules\/@policy-lab\//.test(line));
    if (errors.length) throw new Error(errors.join('\n'));
    const theirs = stdout.split('\n').filter((line) => /error TS\d+/.test(line)).length;
    return theirs ? `${theirs} errors inside third-party declarations, not ours` : undefined;
  });

  const example = readmeExample(dir);
  if (example && RUN_README_EXAMPLE.has(name)) {
    await check(log, name, "its README's example runs in the scratch project", async () => {
      const js = ts.transpileModule(example, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      writeFileSync(path.join(scratch, 'readme-example.mjs'), js);
      const printed = await run(process.execPath, ['readme-example.mjs'], scratch);
      return `${printed.trim().split('\n').length} lines printed`;
    });
  }

  await check(log, name, 'publint --strict', () =>
    run(bin('publint'), ['run', file, '--strict', '--level', 'warning'], root).then(() => undefined),
  );
  await check(log, name, 'arethetypeswrong (ESM-only profile)', () =>
    run(bin('attw'), [file, '--profile', 'esm-only', '--format', 'ascii'], root).then(() => undefined),
  );
  return log;
}

// Pack every package first (npm pack is not safe to run twice at once in one folder), then check a few at a time.
for (const name of all.keys()) tarball(name);
const queue = [...manifests];
await Promise.all(
  [0, 1, 2].map(async () => {
    for (let next = queue.shift(); next; next = queue.shift()) console.log((await checkPackage(...next)).join('\n'));
  }),
);

rmSync(work, { recursive: true, force: true });
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
if (reportFile) {
  writeFileSync(reportFile, JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numRuntimeErrorTestSuites: 0 }));
}
console.log(`packaging: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
