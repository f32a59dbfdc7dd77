import { afterAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { AgentClient } from '../../src/core/client.ts';

/** psql with only the environment we give it (no PGPASSWORD or PGSSLMODE leaking in). */
function psql(uri: string, sql: string) {
  return processRunner(['psql', uri, '-X', '-Atc', sql], { allowFailure: true, env: { PATH: process.env.PATH } });
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !(await check())) await new Promise((r) => setTimeout(r, 200));
  return check();
}

/** An agent with the proxy on a free port; `proxy` adds keys to the proxy section. */
async function agentWith(tag: string, config: string, proxy = ''): Promise<{ agent: TestAgent; client: AgentClient }> {
  const agent = await startTestAgent({ tag, config: `proxy: { listen: "127.0.0.1:0"${proxy ? `, ${proxy}` : ''} }\n${config}` });
  return { agent, client: new AgentClient({ url: agent.url, token: agent.token }) };
}

/** The URI with another password in it, or none (null). */
function withPassword(uri: string, password: string | null): string {
  return uri.replace(/:\/\/([^:]+):[^@]+@/, password === null ? '://$1@' : `://$1:${password}@`);
}

describeWithPool('idle suspend and capacity through the postgres proxy (issue 14)', () => {
  const agents: TestAgent[] = [];

  afterAll(async () => {
    for (const a of agents) await a.destroy();
  });

  it('a branch is suspended after the idle timeout; psql through the proxy wakes it and reads its data', async () => {
    const { agent, client } = await agentWith('lc-idle', 'idle: { suspendAfter: 2s }');
    agents.push(agent);
    const { branch } = await client.create({ name: 'sleepy' });
    const uri = branch.connection!.uri;
    expect(branch.connection!.port).not.toBe(branch.directPort); // the handed-out URI is the proxy's
    expect((await psql(uri, "CREATE TABLE t AS SELECT 'kept while asleep'::text AS v")).stderr).toBe('');
    expect(await until(async () => (await client.get('sleepy')).state === 'stopped', 10_000)).toBe(true);
    const r = await psql(uri, 'SELECT v FROM t');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('kept while asleep');
    expect((await client.get('sleepy')).state).toBe('ready');
    expect(await client.metrics()).toMatch(/^vela_wakes_total 1$/m);
  });

  it('with capacity.maxRunning 5, connecting to a 6th, stopped branch through the proxy suspends the least recently used idle one and succeeds', async () => {
    const { agent, client } = await agentWith('lc-cap', 'idle: { suspendAfter: 0 }\ncapacity: { maxRunning: 5 }');
    agents.push(agent);
    const sixth = (await client.create({ name: 'sixth' })).branch.connection!.uri;
    expect((await psql(sixth, "CREATE TABLE t AS SELECT 'sixth' AS v")).stderr).toBe('');
    await client.stop('sixth');
    const uris: Record<string, string> = {};
    for (const n of ['b1', 'b2', 'b3', 'b4']) uris[n] = (await client.create({ name: n })).branch.connection!.uri;
    // main + b1..b4 run: the limit. b1 was used longest ago; the others are used now, in turn.
    for (const n of ['b2', 'b3', 'b4']) expect((await psql(uris[n], 'SELECT 1')).stdout.trim()).toBe('1');
    await new Promise((r) => setTimeout(r, 300)); // the psql backends are gone
    const r = await psql(sixth, 'SELECT v FROM t');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('sixth');
    const states = Object.fromEntries((await client.list()).branches.map((b) => [b.name, b.state]));
    expect(states).toEqual({ main: 'ready', b1: 'stopped', b2: 'ready', b3: 'ready', b4: 'ready', sixth: 'ready' });
    expect(await client.metrics()).toMatch(/^vela_suspends_total\{reason="capacity"\} 1$/m);
  });

  it('an address with too many failed logins through the proxy wakes nothing more: wrong passwords and guessed names count', async () => {
    const { agent, client } = await agentWith('lc-guard', 'idle: { suspendAfter: 0 }', 'loginFailures: { max: 3, windowSeconds: 300 }');
    agents.push(agent);
    const uris: Record<string, string> = {};
    for (const n of ['victim', 'other']) {
      uris[n] = (await client.create({ name: n })).branch.connection!.uri;
      await client.stop(n);
    }
    const wrong = (uri: string) => withPassword(uri, 'not-the-password');
    // A client without a password (psql before it prompts) hangs up without an error: not a failure.
    const noPassword = withPassword(uris.victim, null);
    for (let i = 0; i < 3; i++) expect((await psql(noPassword, 'SELECT 1')).stderr).toMatch(/no password supplied/);
    expect((await psql(uris.victim, 'SELECT 1')).stdout.trim()).toBe('1');
    // Two wrong passwords: the first wakes `victim` (the branch checks the password), both fail as postgres says.
    for (let i = 0; i < 2; i++) expect((await psql(wrong(uris.victim), 'SELECT 1')).stderr).toMatch(/password authentication failed/);
    expect((await client.get('victim')).state).toBe('ready');
    // A guessed branch name is the third failure.
    expect((await psql(uris.other.replace(/\/other\b/, '/no-such-branch'), 'SELECT 1')).stderr).toMatch(
      /branch "no-such-branch" does not exist/,
    );
    // Now even the right password to the stopped `other` is refused before anything wakes.
    const locked = await psql(uris.other, 'SELECT 1');
    expect(locked.stderr).toMatch(/FATAL:\s+too many failed logins from 127\.0\.0\.1 through the vela-branch proxy; try again in \d+ s/);
    expect(locked.stderr).not.toMatch(/not-the-password|password=/);
    expect((await client.get('other')).state).toBe('stopped');
    expect(await client.metrics()).toMatch(/^vela_proxy_refusals_total\{sqlstate="28000"\} 1$/m);
    // The API is another door: a token holder still starts it.
    expect((await client.start('other')).state).toBe('ready');
  });

  it('failed logins to a running branch through the proxy do not keep it from idle suspend', async () => {
    const { agent, client } = await agentWith('lc-awake', 'idle: { suspendAfter: 2s }', 'loginFailures: { max: 1000, windowSeconds: 300 }');
    agents.push(agent);
    const uri = (await client.create({ name: 'awake' })).branch.connection!.uri;
    const wrong = withPassword(uri, 'not-the-password');
    // A wrong password every ~250 ms: each used to count as use of the branch.
    const end = Date.now() + 10_000;
    let attempts = 0;
    while (Date.now() < end && (await client.get('awake')).state === 'ready') {
      expect((await psql(wrong, 'SELECT 1')).stderr).toMatch(/password authentication failed/);
      attempts++;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(attempts).toBeGreaterThan(3);
    expect((await client.get('awake')).state).toBe('stopped');
  });
});
