import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/index.ts';
import type { ModuleLoader } from '../../src/cli/io.ts';
import { runCli } from './helpers.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('dispatch', () => {
  it('hands `agent` its own argv and returns its exit code', async () => {
    const seen: string[][] = [];
    const load: ModuleLoader = {
      agent: async () => ({ runAgentCommand: async (argv) => (seen.push(argv), 7) }),
      app: async () => ({ runApp: async () => undefined }),
    };
    const r = await runCli(['agent', '--listen', '127.0.0.1:7071'], { load });
    expect(r.code).toBe(7);
    expect(seen).toEqual([['--listen', '127.0.0.1:7071']]);
  });

  it('runs `app`', async () => {
    let ran = 0;
    const load: ModuleLoader = {
      agent: async () => ({ runAgentCommand: async () => 1 }),
      app: async () => ({ runApp: async () => void ran++ }),
    };
    expect((await runCli(['app'], { load })).code).toBe(0);
    expect(ran).toBe(1);
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});

describe('help', () => {
  it.each(COMMANDS.map((c) => c.name))('%s --help shows usage and examples and exits 0', async (name) => {
    const r = await runCli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: vela-branch ${name}\\b`));
    expect(r.stdout).toMatch(/\nExamples:\n {2}.*vela-branch /);
  });

  it('`help NAME` matches `NAME --help`, and covers agent', async () => {
    expect((await runCli(['help', 'create'])).stdout).toBe((await runCli(['create', '--help'])).stdout);
    expect((await runCli(['help', 'agent'])).stdout).toMatch(/^Usage: vela-branch agent \[--data-dir DIR\]/);
  });

  it('the overview lists every command', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['agent', 'app', ...COMMANDS.map((c) => c.name)]) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });
});

describe('bin/vela-branch.js', () => {
  const bin = fileURLToPath(new URL('../../bin/vela-branch.js', import.meta.url));

  it('runs main() and sets the exit code', () => {
    const ok = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(`${pkg.version}\n`);
    const bad = spawnSync(process.execPath, [bin, 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('vela-branch: unknown command "nope" (see vela-branch --help)\n');
  });
});
