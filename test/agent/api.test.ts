import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { describeWithPool } from '../helpers/env.ts';
import { isBranchName } from '../../src/core/names.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { buildServer } from '../../src/agent/http/build-server.ts';
import { createAuthenticator } from '../../src/agent/auth/authenticator.ts';
import { AuditLog } from '../../src/agent/audit.ts';
import { Metrics } from '../../src/agent/metrics.ts';
import { createLogger } from '../../src/agent/logger.ts';
import { createTestIssuer, serveJwks, PR_CLAIMS } from './auth/oidc-keys.ts';
import type { TestIssuer } from './auth/oidc-keys.ts';

const ADMIN = 'admin-token-for-api-tests-0001';
const WRITE = 'write-token-for-api-tests-0001';
const READ = 'read-token-for-api-tests-00001';
const CI = 'ci-prefix-token-for-api-tests-1';
const ISSUER = 'https://token.actions.githubusercontent.com';
const AUDIENCE = 'vela-test';

describeWithPool('agent HTTP API (inject, real engine on btrfs)', () => {
  let e: TestEngine;
  let server: FastifyInstance;
  let issuer: TestIssuer;
  let jwks: Awaited<ReturnType<typeof serveJwks>>;
  let logs = '';
  const passwords: string[] = [];

  const call = (method: string, url: string, token: string | null, payload?: unknown, headers: Record<string, string> = {}) =>
    server.inject({
      method: method as 'GET',
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  beforeAll(async () => {
    e = await openTestEngine('api');
    issuer = await createTestIssuer(ISSUER, AUDIENCE);
    jwks = await serveJwks(() => issuer.jwks);
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    server = buildServer({
      manager: e.manager,
      builder: e.builder,
      differ: e.differ,
      auth: createAuthenticator({
        adminToken: ADMIN,
        tokens: [
          { name: 'writer', token: WRITE, scope: 'write' },
          { name: 'reader', token: READ, scope: 'read' },
          { name: 'ci', token: CI, scope: 'write', prefixes: ['ci-'], parents: ['main'] },
        ],
        oidc: {
          issuer: ISSUER,
          audience: AUDIENCE,
          jwksUrl: `${jwks.url}/.well-known/jwks`,
          rules: [{ repository: 'octo/app', scope: 'write', prefixes: ['pr-'] }],
        },
      }),
      audit: new AuditLog(join(e.dataDir, 'state', 'audit.jsonl')),
      metrics: new Metrics(),
      publicHost: '127.0.0.1',
      version: 'test',
      logger: createLogger('debug', sink),
      checkAnswers: true,
    });
    await server.ready();
  });

  afterAll(async () => {
    await server?.close();
    await jwks?.close();
    await e?.destroy();
  });

  it('GET /healthz needs no token', async () => {
    const r = await call('GET', '/healthz', null);
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ ok: true, storage: 'btrfs' });
  });

  it('no token is 401, a read token creating is 403, a ci- token creating prod-x is 403', async () => {
    expect((await call('GET', '/v1/branches', null)).statusCode).toBe(401);
    expect((await call('GET', '/v1/branches', 'not-a-token')).statusCode).toBe(401);
    const asRead = await call('POST', '/v1/branches', READ, { name: 'ci-a' });
    expect(asRead.statusCode).toBe(403);
    const prod = await call('POST', '/v1/branches', CI, { name: 'prod-x' });
    expect(prod.statusCode).toBe(403);
    expect(prod.json().error.message).toMatch(/ci-/);
    expect(e.manager.find('ci-a')).toBeUndefined();
    expect(e.manager.find('prod-x')).toBeUndefined();
  });

  it('POST /v1/branches creates (201 with credentials), returns existing with ifExists=return, 409 with fail', async () => {
    const r = await call('POST', '/v1/branches', CI, { name: 'ci-one', ttl: '2h', labels: { repo: 'octo/app', pr: '7' } });
    expect(r.statusCode).toBe(201);
    const body = r.json();
    expect(body.created).toBe(true);
    expect(body.branch).toMatchObject({ name: 'ci-one', parent: 'main', state: 'ready', labels: { repo: 'octo/app', pr: '7' } });
    passwords.push(body.branch.connection.password);
    expect(await sql(body.branch.connection.uri, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const again = await call('POST', '/v1/branches', CI, { name: 'ci-one', ifExists: 'return' });
    expect(again.statusCode).toBe(200);
    expect(again.json().created).toBe(false);
    expect(again.json().branch.connection.password).toBe(body.branch.connection.password);
    expect((await call('POST', '/v1/branches', CI, { name: 'ci-one', ifExists: 'fail' })).statusCode).toBe(409);
  });

  it('a token limited to parent main cannot branch from another parent', async () => {
    const r = await call('POST', '/v1/branches', CI, { name: 'ci-two', parent: 'ci-one' });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.message).toMatch(/may not branch from ci-one/);
  });

  it('GET /v1/branches lists without passwords; GET one shows credentials only to writers', async () => {
    const list = await call('GET', '/v1/branches', READ);
    expect(list.statusCode).toBe(200);
    expect(list.json().branches.map((b: { name: string }) => b.name)).toEqual(['ci-one', 'main']);
    expect(list.body).not.toContain('password');
    const asReader = await call('GET', '/v1/branches/ci-one', READ);
    expect(asReader.json().connection).toBeUndefined();
    const asWriter = await call('GET', '/v1/branches/ci-one', CI);
    expect(asWriter.json().connection.password).toBe(passwords[0]);
    const main = await call('GET', '/v1/branches/main', CI);
    expect(main.json().connection).toBeUndefined(); // ci may not write main
    expect((await call('GET', '/v1/branches/nope', READ)).statusCode).toBe(404);
  });

  it('PATCH extends the TTL and relabels; protecting needs admin', async () => {
    const r = await call('PATCH', '/v1/branches/ci-one', CI, { ttl: '3d', labels: { sha: 'abc123' } });
    expect(r.statusCode).toBe(200);
    const exp = new Date(r.json().expiresAt).getTime();
    expect(exp - Date.now()).toBeGreaterThan(2.9 * 86_400_000);
    expect(r.json().labels).toMatchObject({ sha: 'abc123', pr: '7' });
    expect((await call('PATCH', '/v1/branches/ci-one', CI, { protected: true })).statusCode).toBe(403);
    expect((await call('PATCH', '/v1/branches/ci-one', CI, { color: 'red' })).statusCode).toBe(400);
  });

  it('reset keeps the connection string and discards writes; stop and start work', async () => {
    const uri = (await call('GET', '/v1/branches/ci-one', CI)).json().connection.uri;
    await sql(uri, 'CREATE TABLE scratch(x int)');
    const r = await call('POST', '/v1/branches/ci-one/reset', CI);
    expect(r.statusCode).toBe(200);
    expect(r.json().connection.uri).toBe(uri);
    expect(await sql(uri, "SELECT to_regclass('scratch') AS t")).toEqual([{ t: null }]);
    expect((await call('POST', '/v1/branches/ci-one/stop', CI)).json().state).toBe('stopped');
    await expect(sql(uri, 'SELECT 1')).rejects.toThrow();
    expect((await call('POST', '/v1/branches/ci-one/start', CI)).json().state).toBe('ready');
    expect(await sql(uri, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('main is protected: delete or reset needs force and an admin token', async () => {
    expect((await call('DELETE', '/v1/branches/main', WRITE)).statusCode).toBe(409);
    expect((await call('DELETE', '/v1/branches/main?force=1', WRITE)).statusCode).toBe(403);
    expect((await call('POST', '/v1/branches/main/reset', ADMIN)).statusCode).toBe(409);
    expect(e.manager.get('main').state).toBe('ready');
  });

  it('rebase without a rebaser answers 503 with a clear message; diff answers the schema diff', async () => {
    const r = await call('POST', '/v1/branches/ci-one/rebase', CI);
    expect(r.statusCode).toBe(503);
    expect(r.json().error.message).toMatch(/rebase is not available on this agent/);
    const d = await call('GET', '/v1/branches/ci-one/diff', CI);
    expect(d.statusCode).toBe(200);
    expect(d.json()).toMatchObject({ sql: '', summary: [] });
  });

  it('OIDC: a token for the allowed repository creates pr-*, another repository is 403, expired or wrong audience 401', async () => {
    const good = await issuer.sign(PR_CLAIMS);
    const r = await call('POST', '/v1/branches', good, { name: 'pr-7' });
    expect(r.statusCode).toBe(201);
    passwords.push(r.json().branch.connection.password);
    const other = await issuer.sign({ ...PR_CLAIMS, repository: 'evil/app', repository_owner: 'evil' });
    expect((await call('POST', '/v1/branches', other, { name: 'pr-8' })).statusCode).toBe(403);
    const expired = await issuer.sign(PR_CLAIMS, { expiresIn: Math.floor(Date.now() / 1000) - 600 });
    expect((await call('POST', '/v1/branches', expired, { name: 'pr-8' })).statusCode).toBe(401);
    const wrongAud = await issuer.sign(PR_CLAIMS, { audience: 'someone-else' });
    expect((await call('POST', '/v1/branches', wrongAud, { name: 'pr-8' })).statusCode).toBe(401);
    expect(e.manager.find('pr-8')).toBeUndefined();
    expect((await call('DELETE', '/v1/branches/pr-7', good)).statusCode).toBe(200);
  });

  it('the audit trail has one record per mutating request with actor and result', async () => {
    const r = await call('GET', '/v1/audit?limit=200', READ);
    expect(r.statusCode).toBe(200);
    const records = r.json().records as { actor: string; action: string; branch: string | null; result: string; status: number }[];
    expect(records.find((x) => x.action === 'branch.create' && x.branch === 'ci-one' && x.status === 201)).toMatchObject({
      actor: 'token:ci',
      result: 'ok',
    });
    expect(records.find((x) => x.branch === 'prod-x')).toMatchObject({ result: 'denied', status: 403 });
    expect(records.find((x) => x.branch === 'pr-7' && x.action === 'branch.create')?.actor).toMatch(/octo\/app/);
    const unauthenticated = records.filter((x) => x.status === 401);
    expect(unauthenticated.length).toBeGreaterThan(0);
    expect(unauthenticated.every((x) => x.actor === 'anonymous' && x.result === 'denied')).toBe(true);
    expect((await call('GET', '/v1/audit?limit=0', READ)).statusCode).toBe(400);
  });

  it('GET /metrics exposes branches by state, durations and pool bytes', async () => {
    const r = await call('GET', '/metrics', READ);
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatch(/vela_branches\{state="ready"\} 2/);
    expect(r.body).toMatch(/vela_operation_duration_seconds_count\{op="create"\} [1-9]/);
    expect(r.body).toMatch(/vela_pool_bytes\{kind="free"\} [1-9]/);
  });

  it('GET /openapi.json describes every route', async () => {
    const doc = (await call('GET', '/openapi.json', READ)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/branches', '/v1/branches/{name}', '/v1/branches/{name}/reset', '/v1/audit', '/metrics']),
    );
    expect(doc.paths['/v1/branches'].post.requestBody.content['application/json'].schema.properties.name).toBeDefined();
  });

  it('DELETE frees the branch; cascade is needed for children', async () => {
    await call('POST', '/v1/branches', WRITE, { name: 'ci-parent' });
    await call('POST', '/v1/branches', WRITE, { name: 'ci-child', parent: 'ci-parent' });
    expect((await call('DELETE', '/v1/branches/ci-parent', WRITE)).statusCode).toBe(409);
    const r = await call('DELETE', '/v1/branches/ci-parent?cascade=1', WRITE);
    expect(r.json()).toEqual({ deleted: ['ci-child', 'ci-parent'] });
    expect((await call('DELETE', '/v1/branches/ci-one', CI)).statusCode).toBe(200);
    expect(await e.manager.storage.list()).toEqual(['main']);
  });

  it('fuzz: a few hundred malformed bodies, names and headers are all 4xx and create nothing', async () => {
    const names: unknown[] = [
      '../x',
      '..',
      'A',
      '-x',
      'x_y',
      'x'.repeat(64),
      'ü',
      'pr-1\u0000',
      '',
      ' ',
      'x/y',
      'x.y',
      '%2e%2e',
      'x'.repeat(10_000),
      null,
      1,
      true,
      [],
      {},
    ];
    const bodies: unknown[] = [];
    for (const name of names) {
      bodies.push({ name });
      bodies.push({ name: 'ci-ok', parent: name });
      if (typeof name === 'string' && !/^[a-z0-9][a-z0-9._/-]{0,62}$/.test(name)) bodies.push({ name: 'ci-ok', labels: { [name]: 'v' } });
    }
    bodies.push(
      { name: 'ci-ok', extra: 1 },
      { name: 'ci-ok', ttl: 'forever' },
      { name: 'ci-ok', ttl: '0s' },
      { name: 'ci-ok', ifExists: 'maybe' },
    );
    bodies.push({ name: 'ci-ok', labels: 'x' }, { name: 'ci-ok', labels: { a: 'x'.repeat(1000) } }, [], 'string', 42, null);
    // Seeded random junk: names from a hostile alphabet, wrong types, deep nesting.
    let seed = 42;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0), (seed >>> 16) % n);
    const alphabet = ['a', 'Z', '-', '_', '.', '/', '\\', '\u0000', 'ü', '😀', ' ', '%', "'", '"', ';', '$'];
    for (let i = 0; i < 150; i++) {
      let junk = Array.from({ length: 1 + rnd(20) }, () => alphabet[rnd(alphabet.length)]).join('');
      if (isBranchName(junk)) junk += '/';
      const variants: unknown[] = [
        { name: junk },
        { name: 'ci-ok', ttl: junk },
        { name: 'ci-ok', ifExists: junk },
        { name: { nested: { deep: junk } } },
        { name: 'ci-ok', labels: { k: rnd(2) ? 1 : null } },
      ];
      bodies.push(variants[i % variants.length]);
    }
    const statuses: number[] = [];
    for (const b of bodies) {
      const st = (await call('POST', '/v1/branches', WRITE, JSON.stringify(b), { 'content-type': 'application/json' })).statusCode;
      statuses.push(st);
    }
    for (const raw of ['{', '{"name":', '\u0000', 'x'.repeat(70_000), '{"name":"ci-ok"}'.repeat(3)]) {
      statuses.push((await call('POST', '/v1/branches', WRITE, raw, { 'content-type': 'application/json' })).statusCode);
    }
    statuses.push(
      (await call('POST', '/v1/branches', WRITE, 'name=ci-ok', { 'content-type': 'application/x-www-form-urlencoded' })).statusCode,
    );
    for (const n of names.filter((x): x is string => typeof x === 'string' && x.length < 200)) {
      for (const [m, suffix] of [
        ['GET', ''],
        ['DELETE', ''],
        ['POST', '/reset'],
        ['PATCH', ''],
      ] as const) {
        statuses.push((await call(m, `/v1/branches/${encodeURIComponent(n)}${suffix}`, WRITE, m === 'PATCH' ? {} : undefined)).statusCode);
      }
    }
    for (const h of ['Bearer', 'Bearer  ', 'Basic abc', `Bearer ${'x'.repeat(5000)}`, 'Bearer a.b.c', 'bearer ' + WRITE + ' extra']) {
      statuses.push(
        (await server.inject({ method: 'POST', url: '/v1/branches', headers: { authorization: h }, payload: { name: 'ci-ok' } }))
          .statusCode,
      );
    }
    statuses.push((await call('DELETE', '/v1/branches/ci-ok?cascade=maybe', WRITE)).statusCode);
    statuses.push((await call('GET', '/v1/audit?limit=abc', READ)).statusCode);
    expect(statuses.length).toBeGreaterThan(150);
    const bad = statuses.filter((s) => s < 400 || s >= 500);
    expect(bad).toEqual([]);
    expect(e.manager.list().map((r) => r.name)).toEqual(['main']);
    expect(await e.manager.storage.list()).toEqual(['main']);
    expect((await call('GET', '/healthz', null)).statusCode).toBe(200);
  });

  it('POST /v1/init re-creates main from seed scripts (admin only); a failing seed is a 400 and leaves main as it was', async () => {
    const seeds = [{ name: 'schema.sql', sql: 'CREATE TABLE seeded(x int); INSERT INTO seeded VALUES (1), (2)' }];
    expect((await call('POST', '/v1/init', WRITE, { mode: 'empty', seeds })).statusCode).toBe(403);
    const r = await call('POST', '/v1/init', ADMIN, { mode: 'empty', seeds });
    expect(r.statusCode).toBe(201);
    const child = (await call('POST', '/v1/branches', WRITE, { name: 'ci-seeded' })).json().branch;
    expect(await sql(child.connection.uri, 'SELECT count(*)::int AS n FROM seeded')).toEqual([{ n: 2 }]);
    // Re-initialising main while it has a child: built beside, the child keeps its data.
    expect((await call('POST', '/v1/init', ADMIN, { mode: 'empty' })).statusCode).toBe(201);
    expect(await sql(child.connection.uri, 'SELECT count(*)::int AS n FROM seeded')).toEqual([{ n: 2 }]);
    await call('DELETE', '/v1/branches/ci-seeded', WRITE);
    const bad = await call('POST', '/v1/init', ADMIN, { mode: 'empty', seeds: [{ name: 'broken.sql', sql: 'CREATE TABLE (' }] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/seed broken.sql failed/);
    expect(e.manager.get('main').state).toBe('ready');
    expect((await call('POST', '/v1/init', ADMIN, { mode: 'clone' })).statusCode).toBe(400);
    expect((await call('POST', '/v1/init', ADMIN, { mode: 'logical' })).statusCode).toBe(400);
    expect((await call('GET', '/v1/init/progress', READ)).json()).toMatchObject({ running: false, mode: 'empty', phase: 'failed' });
  });

  it('no generated password appears in logs, metrics, audit records or error messages', async () => {
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    const metrics = (await call('GET', '/metrics', READ)).body;
    const audit = (await call('GET', '/v1/audit?limit=1000', READ)).body;
    const errors = (await call('POST', '/v1/branches', WRITE, { name: 'ci-one', ifExists: 'fail', parent: 'nope' })).body;
    expect(logs.length).toBeGreaterThan(0);
    for (const pw of [...passwords, e.manager.get('main').password]) {
      for (const [where, text] of Object.entries({ logs, metrics, audit, errors })) {
        expect(text.includes(pw), `password found in ${where}`).toBe(false);
        expect(text.includes(encodeURIComponent(pw)), `encoded password found in ${where}`).toBe(false);
      }
    }
  });
});
