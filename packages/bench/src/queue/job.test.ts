import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptJob, JobRefused, type UnitJob } from './job.js';

const folder = mkdtempSync(path.join(tmpdir(), 'worker-folder-'));
const setup = { cwd: '/project', folder, plugins: ['./my-plugin.js'], config: 'policy-lab.config.js' };
const job = (extra: Record<string, unknown> = {}): UnitJob & Record<string, unknown> => ({
  unit: { id: 'grpo__countdown__s1', method: 'grpo', env: 'countdown', seed: 1 },
  fingerprint: '0123456789abcdef',
  backend: 'wasm',
  kernels: 'fast',
  threads: 1,
  budget: { episodes: 64 },
  overrides: { learningRate: 0.001 },
  ...extra,
});
const refused = (data: unknown) => {
  try {
    acceptJob(data, setup);
  } catch (error) {
    expect(error).toBeInstanceOf(JobRefused);
    return (error as Error).message;
  }
  throw new Error('the job was accepted');
};

describe('a worker accepts only data from a job', () => {
  it("builds the request from the worker's own plugins, config and folder", () => {
    const request = acceptJob({ ...job(), cwd: '/elsewhere', outDir: '/etc', sftCacheDir: '/etc' }, setup);
    expect(request).toMatchObject({
      cwd: '/project',
      plugins: ['./my-plugin.js'],
      config: 'policy-lab.config.js',
      outDir: path.join(folder, '0123456789abcdef', 'grpo__countdown__s1'),
      sftCacheDir: path.join(folder, '0123456789abcdef', 'sft-cache'),
      overrides: { learningRate: 0.001 },
    });
  });

  it('refuses plugin modules and config files named by a job', () => {
    expect(refused(job({ plugins: ['/tmp/evil.mjs'] }))).toMatch(
      /^job refused: plugins \["\/tmp\/evil.mjs"\]: a job names plugins by registered name only/,
    );
    expect(refused(job({ config: '/tmp/evil.config.mjs' }))).toMatch(/^job refused: config "\/tmp\/evil.config.mjs"/);
  });

  it('refuses ids and fingerprints that would lead out of the worker folder', () => {
    expect(refused(job({ fingerprint: '../x' }))).toBe(
      'job refused: fingerprint "../x" is not a comparison fingerprint (16 hex digits)',
    );
    expect(refused(job({ unit: { id: '../../../x', method: 'grpo', env: 'countdown', seed: 1 } }))).toBe(
      'job refused: unit.id "../../../x" is not the unit\'s id (grpo__countdown__s1)',
    );
    expect(refused(job({ unit: { id: 'x', method: '../grpo', env: 'countdown', seed: 1 } }))).toMatch(
      /^job refused: unit.method "..\/grpo" is not a registered name/,
    );
    expect(refused(job({ unit: { id: 'x', method: 'grpo', env: 'countdown', seed: -1 } }))).toMatch(/unit.seed -1 is not a seed/);
    expect(refused(job({ threads: 5 }))).toBe('job refused: threads 5: accepted 1, 2');
    expect(refused('x')).toBe('job refused: data must be an object');
  });

  it('keeps every path a job reads inside the worker folder, symlinks included', () => {
    mkdirSync(path.join(folder, 'runs', 'teacher'), { recursive: true });
    expect(acceptJob(job({ overrides: { teacher: 'runs/teacher' } }), setup).overrides.teacher).toBe(
      path.join(folder, 'runs', 'teacher'),
    );
    expect(refused(job({ overrides: { teacher: '/etc' } }))).toBe(
      `job refused: overrides.teacher "/etc" is outside this worker's folder ${folder} (bench worker --dir)`,
    );
    expect(refused(job({ overrides: { teacher: '../..' } }))).toMatch(/overrides.teacher "..\/.." is outside/);
    expect(refused(job({ overrides: { envOptions: { data: '/home' } } }))).toMatch(
      /overrides.envOptions.data "\/home" is outside/,
    );
    symlinkSync('/etc', path.join(folder, 'escape'));
    expect(refused(job({ overrides: { envOptions: { data: 'escape' } } }))).toMatch(/"escape" is outside/);
    expect(refused(job({ preferences: { file: '/etc/passwd', sha256: 'a'.repeat(64) } }))).toMatch(
      /preferences.file "\/etc\/passwd" is outside/,
    );
  });
});
