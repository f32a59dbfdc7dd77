import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import type { Branch, ConnectionInfo } from '../../src/core/api/index.ts';
import { startupPacket, sslRequestPacket } from '../../src/agent/proxy/protocol.ts';

const SSL_AND_DB = 'SELECT ssl, current_database() FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

/** psql with only the environment we give it (no PGPASSWORD or PGSSLMODE leaking in). */
function psql(conninfo: string, sql: string, env: NodeJS.ProcessEnv = {}) {
  return processRunner(['psql', conninfo, '-X', '-Atc', sql], {
    allowFailure: true,
    env: { PATH: process.env.PATH, ...env },
  });
}

/** What the proxy answers a raw TLS client: direct TLS (ALPN as given) or after an SSLRequest, then `send`. */
async function tlsExchange(port: number, o: { sslRequest: boolean; alpn?: string[]; send: Buffer }): Promise<Buffer> {
  const raw: Socket = connect({ host: '127.0.0.1', port });
  await new Promise((r) => raw.once('connect', r));
  if (o.sslRequest) {
    raw.write(sslRequestPacket());
    const answer = await new Promise<Buffer>((r) => raw.once('data', r));
    expect(answer.toString()).toBe('S');
  }
  const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: o.alpn });
  await new Promise((r) => secure.once('secureConnect', r));
  secure.write(o.send);
  return new Promise<Buffer>((resolve) => {
    let got = Buffer.alloc(0);
    const finish = () => {
      secure.destroy();
      resolve(got);
    };
    secure.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 5 && got.length >= 1 + got.readInt32BE(1)) finish(); // one whole message
    });
    secure.on('close', finish);
    secure.on('error', finish);
  });
}

describeWithPool('postgres proxy: one port, branch by database name, wake on connect', () => {
  let agent: TestAgent;
  let conn: ConnectionInfo;
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
  const stop = async (name: string) => expect((await api<Branch>('POST', `/v1/branches/${name}/stop`)).state).toBe('stopped');
  const state = async (name: string) => (await api<Branch>('GET', `/v1/branches/${name}`)).state;

  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'proxy', config: 'proxy: { listen: "127.0.0.1:0" }\ncapacity: { maxRunning: 3 }' });
    proxyPort = Number(/postgres proxy on 127\.0\.0\.1:(\d+)/.exec(agent.output())?.[1]);
    const created = await api<{ branch: Branch }>('POST', '/v1/branches', { name: 'px-a' });
    conn = created.branch.connection as ConnectionInfo;
    const c = new pg.Client({ connectionString: conn.uri.replace('sslmode=require', 'sslmode=no-verify') });
    await c.connect();
    await c.query("CREATE TABLE t(v text); INSERT INTO t VALUES ('through the proxy')");
    await c.end();
  }, 120_000);

  afterAll(async () => {
    await agent?.destroy();
  });

  it('hands out URIs that go through the proxy: the port is the proxy, the database names the branch', async () => {
    expect(proxyPort).toBeGreaterThan(0);
    expect(conn).toMatchObject({ host: '127.0.0.1', port: proxyPort, database: 'px-a' });
    expect(conn.uri).toMatch(new RegExp(`@127\\.0\\.0\\.1:${proxyPort}/px-a\\?sslmode=require$`));
    const b = await api<Branch>('GET', '/v1/branches/px-a');
    expect(b.port).toBe(proxyPort);
    expect(b.directPort).not.toBe(proxyPort);
    // The URI as handed out, with psql: TLS, and the branch's real database behind the name.
    const r = await psql(conn.uri, SSL_AND_DB);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('t|postgres');
    // The branch's own port keeps working.
    const direct = await psql(conn.uri.replace(`:${proxyPort}/px-a`, `:${b.directPort}/postgres`), 'SELECT v FROM t');
    expect(direct.stdout.trim()).toBe('through the proxy');
  });

  it('wakes a stopped branch for psql, which reads its data; sslmode=disable and require both work', async () => {
    await stop('px-a');
    const r = await psql(conn.uri, 'SELECT v FROM t');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('through the proxy');
    expect(await state('px-a')).toBe('ready');
    const plain = await psql(conn.uri.replace('sslmode=require', 'sslmode=disable'), SSL_AND_DB);
    expect(plain.stdout.trim()).toBe('f|postgres');
    // SCRAM channel binding survives TLS termination: the proxy and the branch present one certificate.
    const bound = await psql(`${conn.uri}&channel_binding=require`, SSL_AND_DB);
    expect(bound.stderr).toBe('');
    expect(bound.stdout.trim()).toBe('t|postgres');
    // BRANCH.DATABASE reaches another database of the branch.
    expect((await psql(conn.uri.replace('/px-a?', '/px-a.template1?'), 'SELECT current_database()')).stdout.trim()).toBe('template1');
  });

  it("sslmode=verify-full with the agent's CA verifies the proxy; libpq's default sslmode=prefer works too", async () => {
    const { pem } = await api<{ pem: string }>('GET', '/v1/ca');
    const dir = await mkdtemp(join(tmpdir(), 'vela-proxy-ca-'));
    try {
      await writeFile(join(dir, 'ca.pem'), pem);
      const verified = await psql(
        `${conn.uri.replace('sslmode=require', 'sslmode=verify-full')}&sslrootcert=${join(dir, 'ca.pem')}`,
        SSL_AND_DB,
      );
      expect(verified.stderr).toBe('');
      expect(verified.stdout.trim()).toBe('t|postgres');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const prefer = await psql(conn.uri.replace('?sslmode=require', ''), SSL_AND_DB);
    expect(prefer.stdout.trim()).toBe('t|postgres');
  });

  it("a wrong password fails with the branch's own error; the proxy never sees the password", async () => {
    const bad = conn.uri.replace(`:${encodeURIComponent(conn.password)}@`, ':not-the-password@');
    const r = await psql(bad, 'SELECT 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`password authentication failed for user "${conn.user}"`);
    expect(agent.output()).not.toContain(conn.password);
  });

  it('direct TLS (sslnegotiation=direct, ALPN postgresql) reaches the branch; without ALPN, or garbage inside TLS, an ErrorResponse in TLS', async () => {
    const startup = startupPacket(
      3,
      0,
      new Map([
        ['user', conn.user],
        ['database', 'px-a'],
      ]),
    );
    const direct = await tlsExchange(proxyPort, { sslRequest: false, alpn: ['postgresql'], send: startup });
    // The branch's own AuthenticationSASL (R, code 10): its SCRAM exchange would follow.
    expect(direct.toString('latin1', 0, 1)).toBe('R');
    expect(direct.readInt32BE(5)).toBe(10);
    const noAlpn = await tlsExchange(proxyPort, { sslRequest: false, send: startup });
    expect(noAlpn.toString('latin1', 0, 1)).toBe('E');
    expect(noAlpn.toString()).toContain('without ALPN protocol negotiation extension');
    const bad = Buffer.alloc(8);
    bad.writeInt32BE(99_999, 0);
    const garbage = await tlsExchange(proxyPort, { sslRequest: true, send: bad });
    expect(garbage.toString('latin1', 0, 1)).toBe('E');
    expect(garbage.toString()).toContain('invalid length of startup packet');
  });

  it('an unknown branch or a database that names none gets a PostgreSQL FATAL that psql shows', async () => {
    const unknown = await psql(conn.uri.replace('/px-a?', '/no-such-branch?'), 'SELECT 1');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('FATAL:  branch "no-such-branch" does not exist');
    expect(unknown.stderr).toContain('HINT:  Through the vela-branch proxy the database name is the branch');
    const notAName = await psql(conn.uri.replace('/px-a?', '/Not_A_Branch?'), 'SELECT 1');
    expect(notAName.stderr).toContain('FATAL:  database "Not_A_Branch" does not name a branch');
    // Same answer without TLS.
    const plain = await psql(conn.uri.replace('/px-a?sslmode=require', '/no-such-branch?sslmode=disable'), 'SELECT 1');
    expect(plain.stderr).toContain('FATAL:  branch "no-such-branch" does not exist');
    const metrics = await (await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
    expect(metrics).toMatch(/^vela_proxy_refusals_total\{sqlstate="3D000"\} [3-9]$/m);
    expect(metrics).toMatch(/^vela_proxy_sessions_total [1-9]\d*$/m);
  });

  it('many clients waking one stopped branch start it once, and all of them get in', async () => {
    await stop('px-a');
    const clients = Array.from({ length: 12 }, async () => {
      const c = new pg.Client({ connectionString: conn.uri.replace('sslmode=require', 'sslmode=no-verify') });
      await c.connect();
      const r = await c.query<{ v: string; started: Date }>('SELECT v, pg_postmaster_start_time() AS started FROM t');
      await c.end();
      return r.rows[0];
    });
    const rows = await Promise.all(clients);
    expect(rows.every((r) => r.v === 'through the proxy')).toBe(true);
    // One postmaster served them all: the branch was started once.
    expect(new Set(rows.map((r) => r.started.getTime())).size).toBe(1);
  });

  it("psql's Ctrl-C cancels a query through the proxy (CancelRequest routed by the backend key)", async () => {
    const child = spawn('psql', [conn.uri.replace('sslmode=require', 'sslmode=disable'), '-X', '-Atc', 'SELECT pg_sleep(30)'], {
      env: { PATH: process.env.PATH },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t0 = Date.now();
    setTimeout(() => child.kill('SIGINT'), 1500);
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(err).toContain('canceling statement due to user request');
    expect(code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('with capacity.maxRunning 3, waking a stopped branch suspends the least recently used idle one; all busy is FATAL 53300', async () => {
    const uriOf = async (name: string) => {
      const b = (await api<{ branch: Branch }>('POST', '/v1/branches', { name })).branch;
      await stop(name);
      return (b.connection as ConnectionInfo).uri;
    };
    const uriB = await uriOf('px-b');
    const uriC = await uriOf('px-c');
    // main (protected, never suspended), px-a, then px-b: the limit.
    expect((await psql(conn.uri, 'SELECT 1')).stdout.trim()).toBe('1');
    await new Promise((r) => setTimeout(r, 200));
    expect((await psql(uriB, 'SELECT 1')).stdout.trim()).toBe('1');
    await new Promise((r) => setTimeout(r, 500)); // the psql backends are gone
    const c = await psql(uriC, 'SELECT 1');
    expect(c.stderr).toBe('');
    expect(c.stdout.trim()).toBe('1');
    expect([await state('px-a'), await state('px-b'), await state('px-c')]).toEqual(['stopped', 'ready', 'ready']);
    // px-b and px-c each hold a client: waking px-a finds nothing to suspend.
    const held = [uriB, uriC].map((u) => new pg.Client({ connectionString: u.replace('sslmode=require', 'sslmode=no-verify') }));
    await Promise.all(held.map((h) => h.connect()));
    try {
      const full = await psql(conn.uri, 'SELECT 1');
      expect(full.code).toBe(2);
      expect(full.stderr).toContain('FATAL:  no room to run branch px-a');
      const viaPg = new pg.Client({ connectionString: conn.uri.replace('sslmode=require', 'sslmode=no-verify') });
      await expect(viaPg.connect()).rejects.toMatchObject({ code: '53300', severity: 'FATAL' });
    } finally {
      await Promise.all(held.map((h) => h.end()));
    }
    expect(await state('px-a')).toBe('stopped');
  });

  it('a branch still serving the certificate from before a publicHost change is reached without breaking channel binding', async () => {
    // kill -9 leaves px-b running with the old certificate; the new agent re-issues it for the new host and adopts px-b.
    await agent.kill('SIGKILL');
    agent = await startTestAgent({
      tag: 'proxy',
      dataDir: agent.dataDir,
      config: `proxy: { listen: "127.0.0.1:${proxyPort}" }\ncapacity: { maxRunning: 3 }`,
      env: { VELA_PUBLIC_HOST: 'proxy-test.invalid' },
    });
    expect(await state('px-b')).toBe('ready');
    const b = (await api<Branch>('GET', '/v1/branches/px-b')).connection as ConnectionInfo;
    expect(b.host).toBe('proxy-test.invalid');
    const uri = b.uri.replace('@proxy-test.invalid:', '@127.0.0.1:');
    const r = await psql(uri, SSL_AND_DB);
    expect(r.stderr).toBe('');
    // The client spoke TLS (sslmode=require); the branch saw plaintext over loopback, so it offered no binding to fail.
    expect(r.stdout.trim()).toBe('f|postgres');
  });

  it('a malformed startup packet gets an ErrorResponse, not a dropped socket', async () => {
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: proxyPort });
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      s.on('close', () => resolve(got));
      s.on('error', reject);
      const head = Buffer.alloc(8);
      head.writeInt32BE(1_000_000, 0); // far over postgres' 10,000-byte limit
      head.writeInt32BE(196608, 4);
      s.write(head);
    });
    expect(String.fromCharCode(answer[0])).toBe('E');
    expect(answer.toString('utf8')).toContain('C08P01');
    expect(answer.toString('utf8')).toContain('invalid length of startup packet');
  });
});
