import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, schemaErrors } from './test-support/run-cli.js';

const thirdParty = (name: string) => `
export const plugin = {
  name: 'third-party-${name}',
  estimators: [{
    name: '${name}',
    summary: 'mean baseline from a third party',
    paper: { title: 'A test paper', year: 2024 },
    unverified: ['everything'],
    compute: (groups) => ({ rollout: groups.map((g) => g.map(() => 0)), weights: groups.map((g) => g.map(() => 1)) }),
  }],
};
`;

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'bench-cli-'));
}

describe('bench CLI shell', () => {
  it('prints help and version with exit 0', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: bench/);
    expect(help.stdout).toMatch(/list/);
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 with one line for an unknown command', async () => {
    const result = await runCli(['nosuchcommand']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')[0]).toMatch(/unknown command 'nosuchcommand'/);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('exits 2 with one line for a missing --plugin file, and a stack only with --debug', async () => {
    const cwd = tempDir();
    const result = await runCli(['list', '--plugin', './missing.js'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--plugin \.\/missing\.js: no such file/);
    const debug = await runCli(['list', '--plugin', './missing.js', '--debug'], { cwd });
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(/UsageError.*\n\s+at /);
  });

  it('lists a third-party plugin loaded through --plugin, as JSON valid against the list schema', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'plugin.mjs'), thirdParty('third-est'));
    const result = await runCli(['list', '--json', '--plugin', './plugin.mjs'], { cwd });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(schemaErrors('list', doc)).toEqual([]);
    expect(doc).toMatchObject({ schemaVersion: 1, kind: 'list' });
    const entry = doc.estimators.find((e: { name: string }) => e.name === 'third-est');
    expect(entry).toMatchObject({ package: 'third-party-third-est', source: './plugin.mjs', unverified: ['everything'] });
    // the built-in packages are registered the same way (by discovery)
    expect(Object.keys(doc.plugins)).toContain('@policy-lab/advantage');
  });

  it('lists a third-party plugin from a config file in the working folder', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'p.mjs'), thirdParty('config-est'));
    writeFileSync(path.join(cwd, 'policy-lab.config.json'), JSON.stringify({ plugins: ['./p.mjs'] }));
    const result = await runCli(['list', '--json'], { cwd });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).estimators.map((e: { name: string }) => e.name)).toContain('config-est');
    const text = await runCli(['list', '--verbose', '--kind', 'estimators'], { cwd });
    expect(text.stdout).toMatch(/config-est\s+mean baseline from a third party/);
    expect(text.stdout).toMatch(/paper: A test paper \(2024\)/);
  });

  it('says in its text output where each plugin came from', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'plugin.mjs'), thirdParty('where-est'));
    const result = await runCli(['list', '--plugin', './plugin.mjs'], { cwd });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^plugins \(\d+\)$/m);
    expect(result.stdout).toMatch(/^ {2}third-party-where-est\s+from \.\/plugin\.mjs$/m);
    expect(result.stdout).toMatch(/^ {2}@policy-lab\/advantage\s+installed package @policy-lab\/advantage \(\/.+\)$/m);
  });

  it('exits 2 naming a discovered plugin package that throws at import', async () => {
    const cwd = tempDir();
    const pkg = path.join(cwd, 'node_modules', 'policy-lab-plugin-broken');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      path.join(pkg, 'package.json'),
      JSON.stringify({ name: 'policy-lab-plugin-broken', type: 'module', main: 'index.js', 'policy-lab': { plugin: true } }),
    );
    writeFileSync(path.join(pkg, 'index.js'), "throw new Error('broken on purpose');\n");
    const result = await runCli(['list'], { cwd });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/policy-lab-plugin-broken.*broken on purpose/);
  });

  it('refuses an unknown --kind naming the accepted ones', async () => {
    const result = await runCli(['list', '--kind', 'estimator']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown --kind 'estimator': accepted estimators, losses/);
  });
});

describe('the bench executable', () => {
  it('flushes a large --json document through a pipe before it exits (bench list --json is over 128 KiB)', async () => {
    const { spawn } = await import('node:child_process');
    const bin = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'bench.js');
    // A shell pipe with a slow reader (node's own 'pipe' stdio is a socket pair, which never cut):
    // the pipe fills, so the CLI's writes go asynchronous before it exits.
    const stdout = await new Promise<string>((resolve, reject) => {
      const command = `"${process.execPath}" "${bin}" list --json | (sleep 2; cat)`;
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    expect(stdout.length).toBeGreaterThan(128 * 1024);
    expect(JSON.parse(stdout).kind).toBe('list');
  });
});
