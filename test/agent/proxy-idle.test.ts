import { afterAll, beforeAll, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import type { Branch, ConnectionInfo } from '../../src/core/api/index.ts';

const BIN = fileURLToPath(new URL('../../bin/vela-branch.js', import.meta.url));

describeWithPool('postgres proxy with idle suspend: the CLI wakes a suspended branch, a proxied client keeps one running', () => {
  let agent: TestAgent;
  let proxyPort: number;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${agent.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${agent.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const state = async (name: string) => (await api<Branch>('GET', `/v1/branches/${name}`)).state;
  const cli = async (args: string[]) =>
    processRunner([process.execPath, BIN, ...args], {
      allowFailure: true,
      env: { PATH: process.env.PATH, VELA_AGENT_URL: agent.url, VELA_TOKEN: agent.token },
    });
  const client = (c: ConnectionInfo) => new pg.Client({ connectionString: c.uri.replace('sslmode=require', 'sslmode=no-verify') });

  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'proxy-idle', config: 'proxy: { listen: "127.0.0.1:0" }\nidle: { suspendAfter: 2s }' });
    proxyPort = Number(/postgres proxy on 127\.0\.0\.1:(\d+)/.exec(agent.output())?.[1]);
  }, 120_000);

  afterAll(async () => {
    await agent?.destroy();
  });

  it('an idle branch is suspended; `vela-branch psql` through the proxy wakes it and reads its data', async () => {
    const idle = (await api<{ branch: Branch }>('POST', '/v1/branches', { name: 'px-idle' })).branch.connection as ConnectionInfo;
    const busy = (await api<{ branch: Branch }>('POST', '/v1/branches', { name: 'px-busy' })).branch.connection as ConnectionInfo;
    const w = client(idle);
    await w.connect();
    await w.query("CREATE TABLE t(v text); INSERT INTO t VALUES ('woken by psql')");
    await w.end();
    // A client held through the proxy: its branch must outlive the idle timeout.
    const held = client(busy);
    await held.connect();
    try {
      const deadline = Date.now() + 20_000;
      while ((await state('px-idle')) !== 'stopped' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect(await state('px-idle')).toBe('stopped');
      expect(await state('px-busy')).toBe('ready');
      expect((await held.query<{ one: number }>('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await held.end();
    }

    // What the CLI hands out is the proxy's URI, and its psql goes through it.
    const show = await cli(['show', 'px-idle']);
    expect(show.stdout).toMatch(new RegExp(`port: +${proxyPort} \\(postgres proxy; the branch's own: \\d+\\)`));
    expect(show.stdout).toMatch(/database: +px-idle$/m);
    const url = await cli(['url', 'px-idle']);
    expect(url.stdout.trim()).toBe(idle.uri);
    expect(idle.port).toBe(proxyPort);
    const r = await cli(['psql', 'px-idle', '--', '-X', '-Atc', 'SELECT v FROM t']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('woken by psql');
    expect(await state('px-idle')).toBe('ready');
  }, 60_000);
});
