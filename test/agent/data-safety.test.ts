import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { sql } from '../helpers/engine-harness.ts';
import { AgentClient, AgentError } from '../../src/core/client.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';
import { runCli } from '../cli/helpers.ts';

/** What is on disk: volumes (with quarantined ones) and registry files. */
async function disk(agent: TestAgent) {
  const volumes = (await readdir(join(agent.dataDir, 'pool', 'vols'))).sort();
  const records = (await readdir(join(agent.dataDir, 'state', 'branches'))).sort();
  return { volumes, records };
}

describeWithPool('one agent per data dir; unreadable state is quarantined, never acted on (real agent)', () => {
  let agent: TestAgent;
  let client: AgentClient;

  beforeAll(async () => {
    // A port of its own: other suites (and other checkouts) start agents on the harness's ports.
    let apiPort = 39700 + Math.floor(Math.random() * 250);
    while (!(await portIsFree(apiPort))) apiPort++;
    agent = await startTestAgent({ tag: 'safety', apiPort });
    client = new AgentClient({ url: agent.url, token: agent.token });
    const { branch } = await client.create({ name: 'keep-1' });
    await sql(branch.connection!.uri, 'CREATE TABLE kept AS SELECT 42 AS answer');
    await client.create({ name: 'gone-1' });
  });

  afterAll(async () => {
    await agent?.destroy();
  });

  it('a second agent on the same data dir refuses, naming the holder’s pid, and changes nothing', async () => {
    const before = await disk(agent);
    let apiPort = 39950 + Math.floor(Math.random() * 40);
    while (!(await portIsFree(apiPort))) apiPort++;
    const second = await startTestAgent({ tag: 'safety', dataDir: agent.dataDir, apiPort }).then(
      async (a) => {
        await a.kill();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(second).toBeInstanceOf(Error);
    expect(second!.message).toContain(`in use by another vela agent (pid ${agent.proc.pid})`);
    expect(await disk(agent)).toEqual(before);
    const kept = await client.get('keep-1');
    expect(kept.state).toBe('ready');
    expect(await sql(kept.connection!.uri, 'SELECT answer FROM kept')).toEqual([{ answer: 42 }]);
  });

  it('truncated records of main and a branch, a deleted record: data kept, problems named, nothing initdb’d', async () => {
    const vols = join(agent.dataDir, 'pool', 'vols');
    await writeFile(join(vols, 'main', 'vela-test-marker'), 'the main that was');
    await agent.kill('SIGKILL');
    const state = join(agent.dataDir, 'state', 'branches');
    await truncate(join(state, 'main.json'), 30);
    await truncate(join(state, 'keep-1.json'), 0);
    await rm(join(state, 'gone-1.json'));

    agent = await agent.restart();
    client = new AgentClient({ url: agent.url, token: agent.token });
    const out = agent.output();
    expect(out).toMatch(/record of branch main is unreadable \(the file is not valid JSON \(truncated or corrupt\)\)/);
    expect(out).toMatch(/record of branch keep-1 is unreadable \(the file is empty\)/);
    expect(out).toMatch(/main has a volume but no readable record: not initialised again/);
    expect(out).toMatch(/moved into quarantine.*gone-1 → \.quarantine-gone-1-\d{8}t\d{6}/);

    // Both volumes are where they were, with their data; main was not initdb'd over.
    expect(await readFile(join(vols, 'main', 'vela-test-marker'), 'utf8')).toBe('the main that was');
    expect(existsSync(join(vols, 'keep-1', 'PG_VERSION'))).toBe(true);
    const { volumes } = await disk(agent);
    expect(volumes.filter((v) => !v.startsWith('.'))).toEqual(['keep-1', 'main']);
    expect(volumes.filter((v) => v.startsWith('.quarantine-gone-1-'))).toHaveLength(1);
    const quarantined = await readdir(join(agent.dataDir, 'state', 'quarantine'));
    expect(quarantined.map((f) => f.replace(/\.json\..*$/, '')).sort()).toEqual(['keep-1', 'main']);

    // The API and the CLI name all three; the CLI exits 1 while anything is set aside.
    const report = await client.doctor();
    expect(report.ok).toBe(false);
    expect(report.records.map((r) => [r.branch, r.reason])).toEqual([
      ['keep-1', 'the file is empty'],
      ['main', 'the file is not valid JSON (truncated or corrupt)'],
    ]);
    expect(report.unclaimed).toEqual(['keep-1', 'main']);
    expect(report.volumes).toEqual([{ volume: expect.stringMatching(/^\.quarantine-gone-1-/), branch: 'gone-1' }]);
    const cli = await runCli(['doctor'], { env: { VELA_AGENT_URL: agent.url, VELA_TOKEN: agent.token } });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/unreadable record of branch main: the file is not valid JSON/);
    expect(cli.stdout).toMatch(/volume keep-1 kept without a readable record/);
    expect(cli.stdout).toMatch(/volume of gone-1 no record claimed, quarantined as \.quarantine-gone-1-/);

    // A create over a kept volume is refused and leaves it alone.
    const again = await client.create({ name: 'keep-1' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(AgentError);
    expect((again as AgentError).status).toBe(409);
    expect((again as AgentError).message).toMatch(/volume named keep-1 already exists without a readable record/);
    expect(existsSync(join(vols, 'keep-1', 'PG_VERSION'))).toBe(true);
  });
});
