import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const out = `build/test-${process.pid}`;

// The npm package runs this bundle: Node refuses to strip types under node_modules.
describe('published CLI bundle (scripts/build-cli.mjs)', () => {
  afterAll(async () => {
    await rm(`${root}/${out}`, { recursive: true, force: true });
  });

  it('builds and runs: --version, and a client command that reaches for the agent', async () => {
    await run(process.execPath, ['scripts/build-cli.mjs', out], { cwd: root });
    // A tiny runner next to the bundle, the way bin/vela-branch.js loads it when installed.
    const probe = `${root}/${out}/probe.mjs`;
    await writeFile(probe, "const { main } = await import('./cli.js'); process.exitCode = await main(process.argv.slice(2));\n");
    const v = await run(process.execPath, [probe, '--version'], { cwd: root });
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const list = await run(process.execPath, [probe, 'list'], {
      cwd: root,
      env: { ...process.env, VELA_AGENT_URL: 'http://127.0.0.1:9', VELA_TOKEN: 'x' },
    }).catch((e) => e);
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/cannot reach the vela agent at http:\/\/127.0.0.1:9/);
  });
});
