import { afterAll, beforeAll, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { sql } from '../helpers/engine-harness.ts';
import { AgentClient, AgentError } from '../../src/core/client.ts';
import type { Branch } from '../../src/core/api/index.ts';
import { processesUnder, volumeOf } from '../../src/agent/postgres/processes.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';
import { TRASH_DIR } from '../../src/agent/storage/btrfs-trash.ts';

/** What is really on the host: volumes, postgres processes, socket dirs, deleted volumes not yet freed. */
async function hostState(agent: TestAgent) {
  const vols = join(agent.dataDir, 'pool', 'vols');
  const volumes = (await readdir(vols)).filter((v) => v !== TRASH_DIR).sort();
  const trash = await readdir(join(vols, TRASH_DIR)).catch(() => []);
  const procs = await processesUnder(vols);
  const procVolumes = [...new Set(procs.map((p) => volumeOf(p, vols)).filter(Boolean))].sort();
  const sockets = (await readdir(join(agent.dataDir, 'run'))).sort();
  return { volumes, procVolumes, sockets, trash };
}

async function expectHostMatchesApi(agent: TestAgent, client: AgentClient) {
  const { branches } = await client.list();
  const names = branches.map((b) => b.name).sort();
  expect(branches.every((b) => b.state === 'ready')).toBe(true);
  const host = await hostState(agent);
  expect(host.volumes).toEqual(names);
  expect(host.procVolumes).toEqual(names);
  expect(host.sockets).toEqual(branches.map((b) => String(b.port)).sort());
  // Deleted volumes wait in the trash only until the agent is quiet: then no snapshot is left over.
  const deadline = Date.now() + 20_000;
  while ((await hostState(agent)).trash.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  expect((await hostState(agent)).trash).toEqual([]);
  return branches;
}

describeWithPool('a real agent process on btrfs', () => {
  let agent: TestAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'proc' });
    client = new AgentClient({ url: agent.url, token: agent.token });
  });

  afterAll(async () => {
    await agent?.destroy();
  });

  it('serves the API and a branch whose connection string works', async () => {
    expect((await client.health()).storage).toBe('btrfs');
    const { branch, created } = await client.create({ name: 'keep-me', ttl: '1d' });
    expect(created).toBe(true);
    expect(await sql(branch.connection!.uri, 'SELECT current_database() AS db')).toEqual([{ db: 'postgres' }]);
    await sql(branch.connection!.uri, 'CREATE TABLE kept AS SELECT 42 AS answer');
  });

  it('50 concurrent create/delete requests: every answer a success or a clean 4xx; nothing left the API does not list', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `load-${i}`);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      const name = names[i % names.length];
      calls.push(i % 3 === 2 ? client.delete(name) : client.create({ name, ifExists: i % 2 ? 'return' : 'fail' }));
    }
    const results = await Promise.allSettled(calls);
    const statuses = results.map((r) => (r.status === 'fulfilled' ? 200 : r.reason instanceof AgentError ? r.reason.status : -1));
    expect(statuses.filter((s) => !(s === 200 || s === 404 || s === 409))).toEqual([]);
    await expectHostMatchesApi(agent, client);
    for (const b of (await client.list()).branches) if (b.name.startsWith('load-')) await client.delete(b.name);
    await expectHostMatchesApi(agent, client);
  });

  it('kill -9 in the middle of creates, then restart: no ready branch lost, no orphan process, snapshot, socket or port', async () => {
    const before = (await client.get('keep-me')).connection!;
    // Creates take ~100 ms; killing after 5..150 ms lands in every step of one.
    for (const [i, delay] of [5, 30, 60, 90, 150].entries()) {
      const name = `crash-${i}`;
      const pending = client.create({ name }).catch(() => null);
      await new Promise((r) => setTimeout(r, delay));
      await agent.kill('SIGKILL');
      await pending;
      agent = await agent.restart();
      client = new AgentClient({ url: agent.url, token: agent.token });
      const branches: Branch[] = await expectHostMatchesApi(agent, client);
      const crashed = branches.find((b) => b.name === name);
      if (!crashed) {
        const ports = branches.map((b) => b.port);
        expect(ports).not.toContain(undefined);
      }
      const kept = await client.get('keep-me');
      expect(kept.state).toBe('ready');
      expect(kept.connection).toEqual(before);
      expect(await sql(before.uri, 'SELECT answer FROM kept')).toEqual([{ answer: 42 }]);
    }
    const log = agent.output();
    expect(log).toMatch(/recovery/);
    for (const b of (await client.list()).branches) if (b.name.startsWith('crash-')) await client.delete(b.name);
    await expectHostMatchesApi(agent, client);
  });

  it('kill -9 in the middle of a reset: the branch comes back, reset, with the same connection string', async () => {
    const { branch } = await client.create({ name: 'resetting', ifExists: 'return' });
    const uri = branch.connection!.uri;
    let logs = '';
    for (const delay of [10, 60, 120]) {
      await sql(uri, 'CREATE TABLE IF NOT EXISTS scratch(x int)');
      const pending = client.reset('resetting').catch(() => null);
      await new Promise((r) => setTimeout(r, delay));
      await agent.kill('SIGKILL');
      await pending;
      agent = await agent.restart();
      logs += agent.output();
      client = new AgentClient({ url: agent.url, token: agent.token });
      const back = await client.get('resetting');
      expect(back.state).toBe('ready');
      expect(back.connection!.uri).toBe(uri);
      // Reset (redone after the crash), or untouched when the kill came before the request was read.
      const [{ t }] = await sql<{ t: string | null }>(uri, "SELECT to_regclass('scratch')::text AS t");
      const redone = agent.output().includes('interrupted reset of resetting');
      if (redone) expect(t).toBeNull();
      else expect([null, 'scratch']).toContain(t); // finished before the kill, or never started
      await expectHostMatchesApi(agent, client);
    }
    expect(logs).toMatch(/interrupted reset of resetting/); // the kill did land inside a reset
    await client.delete('resetting');
  });

  it('a postgres killed behind the agent is restarted on the next start with the same port and credentials', async () => {
    const { connection } = await client.get('keep-me');
    const vols = join(agent.dataDir, 'pool', 'vols');
    const procs = (await processesUnder(vols)).filter((p) => volumeOf(p, vols) === 'keep-me');
    await agent.kill('SIGKILL');
    for (const p of procs) process.kill(p.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(await portIsFree(connection!.port)).toBe(true);
    agent = await agent.restart();
    client = new AgentClient({ url: agent.url, token: agent.token });
    const back = await client.get('keep-me');
    expect(back.error ?? '').toBe('');
    expect(back.connection).toEqual(connection);
    expect(await sql(connection!.uri, 'SELECT answer FROM kept')).toEqual([{ answer: 42 }]);
    expect(agent.output()).toMatch(/restarted 1/);
  });

  it('graceful shutdown keeps branches running; the next start adopts them', async () => {
    const { connection } = await client.get('keep-me');
    await agent.kill('SIGTERM');
    expect(agent.output()).toMatch(/agent stopped/);
    expect(await sql(connection!.uri, 'SELECT 1 AS up')).toEqual([{ up: 1 }]);
    agent = await agent.restart();
    client = new AgentClient({ url: agent.url, token: agent.token });
    expect(agent.output()).toMatch(/adopted 2/);
    await expectHostMatchesApi(agent, client);
  });

  it('the audit trail survives the restarts', async () => {
    const { records } = await client.audit(1000);
    const created = records.find((r) => r.action === 'branch.create' && r.branch === 'keep-me');
    expect(created).toMatchObject({ actor: 'admin', result: 'ok', status: 201 });
    expect(records.filter((r) => r.branch?.startsWith('load-')).length).toBeGreaterThanOrEqual(50);
  });

  it('with shutdown.stopBranches, SIGTERM stops every postgres and the next start brings them back', async () => {
    const { connection } = await client.get('keep-me');
    await agent.kill('SIGTERM');
    agent = await startTestAgent({ tag: 'proc', dataDir: agent.dataDir, config: 'shutdown: { stopBranches: true }' });
    client = new AgentClient({ url: agent.url, token: agent.token });
    await agent.kill('SIGTERM');
    const left = await processesUnder(join(agent.dataDir, 'pool', 'vols'));
    expect(
      left.map((p) => p.argv.join(' ')),
      agent.output().slice(-2000),
    ).toEqual([]);
    await expect(sql(connection!.uri, 'SELECT 1')).rejects.toThrow();
    agent = await agent.restart();
    client = new AgentClient({ url: agent.url, token: agent.token });
    expect(agent.output()).toMatch(/restarted 2/);
    expect(await sql(connection!.uri, 'SELECT answer FROM kept')).toEqual([{ answer: 42 }]);
  });

  it('the agent log never contains a branch password', async () => {
    const { connection } = await client.get('keep-me');
    const main = await client.get('main');
    const out = agent.output();
    expect(out.length).toBeGreaterThan(100);
    for (const pw of [connection!.password, main.connection!.password]) {
      expect(out.includes(pw)).toBe(false);
      expect(out.includes(encodeURIComponent(pw))).toBe(false);
    }
  });
});
