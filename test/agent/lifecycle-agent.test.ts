import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { sql } from '../helpers/engine-harness.ts';
import { AgentClient, AgentError } from '../../src/core/client.ts';

async function hold(uri: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: `${uri}&uselibpqcompat=true` });
  c.on('error', () => {});
  await c.connect();
  return c;
}

const metric = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describeWithPool('idle suspend, capacity and restart in a real agent process', () => {
  let agent: TestAgent;
  let client: AgentClient;

  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'lifecycle', config: 'idle: { suspendAfter: 2s }\ncapacity: { maxRunning: 2 }' });
    client = new AgentClient({ url: agent.url, token: agent.token });
  });

  afterAll(async () => {
    await agent?.destroy();
  });

  it('a full host answers 503 capacity while every branch has a client, and suspends the idle one once there is', async () => {
    const first = (await client.create({ name: 'first' })).branch;
    const session = await hold(first.connection!.uri);
    await sql(first.connection!.uri, 'CREATE TABLE kept AS SELECT 7 AS n');
    const err = await client.create({ name: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ status: 503, code: 'capacity' });
    expect((err as Error).message).toMatch(/no room to run branch second: 2 branches run, the limit is 2 \(capacity\.maxRunning 2\)/);
    expect((await client.list()).branches.map((b) => b.name)).toEqual(['first', 'main']);
    await session.end();
    const second = await client.create({ name: 'second' });
    expect(second.created).toBe(true);
    expect((await client.get('first')).state).toBe('stopped');
  });

  it('suspends an idle branch after idle.suspendAfter; start wakes it with its data, port and credentials', async () => {
    const before = await client.get('second');
    const end = Date.now() + 10_000;
    while (Date.now() < end && (await client.get('second')).state !== 'stopped') await new Promise((r) => setTimeout(r, 200));
    expect((await client.get('second')).state).toBe('stopped');
    expect((await client.get('main')).state).toBe('ready');
    const woken = await client.start('first');
    expect(woken.state).toBe('ready');
    expect(await sql(woken.connection!.uri, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);
    const again = await client.start('second');
    expect(again.port).toBe(before.port);
    expect(again.connection!.password).toBe(before.connection!.password);
    expect((await client.get('first')).state).toBe('stopped');
    const text = await client.metrics();
    expect(metric(text, 'vela_branches_running')).toBe(2);
    expect(metric(text, 'vela_branches_running_limit')).toBe(2);
    // second went idle; first made room for second's create, then idled or made room again.
    const idle = metric(text, 'vela_suspends_total{reason="idle"}')!;
    const capacity = metric(text, 'vela_suspends_total{reason="capacity"}')!;
    expect(idle).toBeGreaterThanOrEqual(1);
    expect(capacity).toBeGreaterThanOrEqual(1);
    expect(idle + capacity).toBe(3);
    expect(metric(text, 'vela_wakes_total')).toBe(2);
    expect(metric(text, 'vela_capacity_refusals_total')).toBe(1);
    expect(metric(text, 'vela_operation_duration_seconds_count{op="wake"}')).toBe(2);
  });

  it('a restart (kill -9) with many branches, most stopped, loses none and keeps stopped ones stopped', async () => {
    for (let i = 0; i < 12; i++) await client.create({ name: `many-${i}` });
    const before = Object.fromEntries((await client.list()).branches.map((b) => [b.name, b.state]));
    expect(Object.values(before).filter((s) => s === 'ready')).toHaveLength(2);
    expect(Object.keys(before)).toHaveLength(15);
    await agent.kill('SIGKILL');
    const t0 = performance.now();
    agent = await agent.restart();
    const ms = performance.now() - t0;
    client = new AgentClient({ url: agent.url, token: agent.token });
    const after = Object.fromEntries((await client.list()).branches.map((b) => [b.name, b.state]));
    expect(after).toEqual(before);
    expect(ms).toBeLessThan(10_000);
    const ready = (await client.list()).branches.find((b) => b.state === 'ready' && b.name !== 'main')!;
    expect(await sql((await client.get(ready.name)).connection!.uri, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
