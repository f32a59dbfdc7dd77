import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { VelaError } from '../../src/core/errors.ts';

const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
const state = (e: TestEngine, name: string) => e.manager.get(name).state;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !check()) await new Promise((r) => setTimeout(r, 100));
  return check();
}

/** A client that stays connected (a running test suite, a psql session). */
async function hold(e: TestEngine, name: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: `${uriOf(e, name)}&uselibpqcompat=true` });
  c.on('error', () => {});
  await c.connect();
  return c;
}

describeWithPool('idle suspend and capacity on a real btrfs pool', () => {
  let e: TestEngine;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    e = await openTestEngine('lifecycle', { idle: { suspendAfterMs: 2000 }, capacity: { maxRunning: 5, memoryBudget: null } });
    await sql(uriOf(e, 'main'), 'CREATE TABLE t (v text); INSERT INTO t VALUES ($$from main$$)');
  });

  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    e?.lifecycle.stopSweeping();
    await e?.destroy();
  });

  it('suspends a branch idle for suspendAfter, but not one with a client, a protected or a keep-running one', async () => {
    await e.lifecycle.create({ name: 'idle-a' });
    await e.lifecycle.create({ name: 'busy-b' });
    await e.lifecycle.create({ name: 'keep-c', labels: { 'keep-running': 'true' } });
    await e.lifecycle.create({ name: 'prot-d' });
    await e.manager.patch('prot-d', { protected: true });
    const client = await hold(e, 'busy-b');
    clients.push(client);
    for (const n of ['idle-a', 'busy-b', 'keep-c', 'prot-d']) e.lifecycle.touch(n); // creates take a while on a busy host
    e.lifecycle.startSweeping();
    // The agent's own connections (this sweep's, a measurement's) never count as clients.
    await new Promise((r) => setTimeout(r, 1200));
    expect(state(e, 'idle-a')).toBe('ready');
    expect(await until(() => state(e, 'idle-a') === 'stopped', 8000)).toBe(true);
    expect(['busy-b', 'keep-c', 'prot-d', 'main'].map((n) => state(e, n))).toEqual(['ready', 'ready', 'ready', 'ready']);
    expect((await client.query<{ v: string }>('SELECT v FROM t')).rows[0].v).toBe('from main');
    // Once its client leaves, the busy one goes too.
    await client.end();
    clients.pop();
    expect(await until(() => state(e, 'busy-b') === 'stopped', 8000)).toBe(true);
    // `stopped` shows once manager.stop has written the record; the lifecycle counts the suspend after.
    expect(await until(() => e.lifecycle.stats().suspends.idle >= 2, 5000)).toBe(true);
    e.lifecycle.stopSweeping();
    expect(e.lifecycle.stats().suspends.idle).toBeGreaterThanOrEqual(2);
  });

  it('wakes a stopped branch: same port and credentials, data intact; concurrent wakes share one start', async () => {
    const before = e.manager.get('idle-a');
    const woken = await Promise.all([e.lifecycle.wake('idle-a'), e.lifecycle.wake('idle-a'), e.lifecycle.wake('idle-a')]);
    expect(woken.map((r) => r.state)).toEqual(['ready', 'ready', 'ready']);
    expect(e.manager.get('idle-a').port).toBe(before.port);
    expect((await sql<{ v: string }>(uriOf(e, 'idle-a'), 'SELECT v FROM t'))[0].v).toBe('from main');
    await expect(e.lifecycle.wake('no-such-branch')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('with maxRunning 5, a 6th start suspends the least recently used idle branch; all busy is 503 capacity', async () => {
    // Running now: main, idle-a, keep-c, prot-d (4). One more fits.
    await e.lifecycle.create({ name: 'e5' });
    expect(e.lifecycle.stats().running).toBe(5);
    e.lifecycle.touch('idle-a'); // e5 (created) and idle-a are recent; exempt ones never go
    await new Promise((r) => setTimeout(r, 20));
    e.lifecycle.touch('e5');
    // busy-b is stopped: waking it makes a 6th; idle-a is the least recently used idle branch.
    const woken = await e.lifecycle.wake('busy-b');
    expect(woken.state).toBe('ready');
    expect(state(e, 'idle-a')).toBe('stopped');
    expect(state(e, 'e5')).toBe('ready');
    expect(e.lifecycle.stats()).toMatchObject({ running: 5, limit: 5 });
    expect(e.lifecycle.stats().suspends.capacity).toBe(1);
    // A request that fails its checks makes no room: nothing is suspended for it.
    await expect(e.lifecycle.create({ name: 'f7', parent: 'no-such-parent' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(e.lifecycle.create({ name: 'f7', ttl: 'soon' })).rejects.toMatchObject({ code: 'bad_request' });
    expect(e.lifecycle.stats().suspends.capacity).toBe(1);
    expect([state(e, 'busy-b'), state(e, 'e5')]).toEqual(['ready', 'ready']);
    // Every branch that could go has a client: nothing changes and the caller gets 503 capacity.
    for (const n of ['busy-b', 'e5']) clients.push(await hold(e, n));
    const err = await e.lifecycle.wake('idle-a').catch((x: unknown) => x);
    expect(err).toBeInstanceOf(VelaError);
    expect(err).toMatchObject({ code: 'capacity', status: 503 });
    expect((err as Error).message).toMatch(/capacity\.maxRunning 5/);
    await expect(e.lifecycle.create({ name: 'f6' })).rejects.toMatchObject({ code: 'capacity' });
    expect(e.manager.find('f6')).toBeUndefined();
    expect(state(e, 'idle-a')).toBe('stopped');
    expect(['busy-b', 'e5', 'main', 'keep-c', 'prot-d'].map((n) => state(e, n))).toEqual(['ready', 'ready', 'ready', 'ready', 'ready']);
    expect(e.lifecycle.stats().capacityRefusals).toBe(2);
  });
});
