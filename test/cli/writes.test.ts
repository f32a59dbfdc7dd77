import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { branchFixture, captureStream, NOW, PASSWORD, runCli } from './helpers.ts';
import { main } from '../../src/cli/index.ts';

let agent: FakeAgent;
let env: Record<string, string>;

beforeEach(async () => {
  agent = await new FakeAgent({ now: () => new Date(NOW), resetMs: 87 }).start();
  agent.seed(branchFixture());
  agent.seed(branchFixture({ name: 'staging', port: 55002 }));
  agent.seed(branchFixture({ name: 'qa-1', parent: 'staging', port: 55003 }));
  // Create answers with fixtures, so the printed timings and ports are known.
  agent.answer('POST /v1/branches', (req) => {
    const body = req.body as { name: string; parent?: string };
    if (body.name === 'taken') return { status: 200, body: { created: false, branch: branchFixture({ name: 'taken' }) } };
    return { status: 201, body: { created: true, branch: branchFixture({ name: body.name, parent: body.parent ?? 'main' }) } };
  });
  agent.answer('POST /v1/init', () => ({ status: 201, body: { branch: branchFixture({ name: 'main', parent: null, port: 5432 }) } }));
  env = { VELA_AGENT_URL: agent.url, VELA_TOKEN: 'tok-write-1' };
});
afterEach(() => agent.stop());

describe('create', () => {
  it('sends every flag to the agent and reports the agent-side time and port', async () => {
    const r = await runCli(
      ['create', 'qa-7', '--from', 'staging', '--ttl', '2h', '--label', 'owner=ana', '--label', 'ticket=QA-12', '--if-exists', 'fail'],
      { env },
    );
    expect(r.code).toBe(0);
    expect(agent.requests).toHaveLength(1);
    expect(agent.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/branches',
      body: { name: 'qa-7', parent: 'staging', ttl: '2h', labels: { owner: 'ana', ticket: 'QA-12' }, ifExists: 'fail' },
    });
    expect(r.stderr).toBe('creating qa-7…\n');
    expect(r.stdout.split('\n')[0]).toBe('✓ created qa-7 from staging in 142 ms (agent) · port 55001');
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('sends only the name when no flags are given', async () => {
    await runCli(['create', 'pr-9'], { env });
    expect(agent.requests[0]?.body).toEqual({ name: 'pr-9' });
  });

  it('says so when the branch already existed', async () => {
    const r = await runCli(['create', 'taken', '--if-exists', 'return'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('✓ taken already exists from main · ready · port 55001');
  });

  it('--json prints the result without the password', async () => {
    const r = await runCli(['create', 'pr-3', '--json'], { env });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.created).toBe(true);
    expect(result.branch.name).toBe('pr-3');
    expect(r.stdout).not.toContain(PASSWORD);
  });

  it('animates a spinner on a TTY and clears it before the result', async () => {
    const stdout = captureStream();
    const stderr = captureStream(true);
    const code = await main(['create', 'pr-4'], { env, stdout, stderr });
    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex -- the spinner escape codes are what is checked
    expect(stderr.text()).toMatch(/^\r\x1b\[K⠋ creating pr-4… 0\.\ds/);
    expect(stderr.text().endsWith('\r\x1b[K')).toBe(true);
    expect(stdout.text()).toMatch(/^✓ created pr-4 from main/);
  });

  it.each([
    [['--label', 'novalue'], '--label needs key=value, got "novalue"'],
    [['--label', 'Bad Key=1'], 'labels.Bad Key: label keys are lowercase'],
    [['--if-exists', 'maybe'], '--if-exists must be "return" or "fail", got "maybe"'],
    [['--from', '../main'], 'invalid branch name "../main"'],
  ])('rejects %j before any request', async (flags, message) => {
    const r = await runCli(['create', 'pr-5', ...flags], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`vela-branch: ${message}`);
    expect(agent.requests).toHaveLength(0);
  });
});

describe('reset, delete, rebase, stop, start', () => {
  it('reset --force passes force and reports the agent reset time', async () => {
    const r = await runCli(['reset', 'pr-1', '--force'], { env });
    expect(r.code).toBe(0);
    expect(agent.requests[0]).toMatchObject({ method: 'POST', path: '/v1/branches/pr-1/reset?force=1' });
    expect(r.stderr).toBe('resetting pr-1…\n');
    expect(r.stdout).toBe('✓ reset pr-1 to main in 87 ms (agent) · port 55001\n');
  });

  it('delete --cascade --force sends both flags and names everything deleted', async () => {
    const r = await runCli(['delete', 'staging', '--cascade', '--force'], { env, now: fixedClock([1000, 1250]) });
    expect(r.code).toBe(0);
    expect(agent.requests[0]).toMatchObject({ method: 'DELETE', path: '/v1/branches/staging?cascade=1&force=1' });
    expect(r.stdout).toBe('✓ deleted staging, qa-1 in 250 ms\n');
  });

  it('rebase, stop and start call their routes', async () => {
    expect((await runCli(['rebase', 'pr-1'], { env })).stdout).toBe('✓ rebased pr-1 onto main in 2.3 s (agent) · port 55001\n');
    expect((await runCli(['stop', 'pr-1'], { env })).stdout).toBe('✓ pr-1 is stopped\n');
    expect((await runCli(['start', 'pr-1'], { env })).stdout).toBe('✓ pr-1 is ready · port 55001\n');
    expect(agent.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/branches/pr-1/rebase',
      'POST /v1/branches/pr-1/stop',
      'POST /v1/branches/pr-1/start',
    ]);
  });
});

describe('extend', () => {
  it('PATCHes the TTL and shows the new expiry', async () => {
    const r = await runCli(['extend', 'pr-1', '2d'], { env, now: () => Date.parse('2025-11-25T12:00:00Z') });
    expect(r.code).toBe(0);
    expect(agent.requests[0]).toMatchObject({ method: 'PATCH', path: '/v1/branches/pr-1', body: { ttl: '2d' } });
    expect(r.stdout).toBe('✓ pr-1 expires 2025-11-27 12:00:00 UTC (in 2d)\n');
  });

  it('"never" clears the TTL', async () => {
    const r = await runCli(['extend', 'pr-1', 'never'], { env });
    expect(agent.requests[0]?.body).toEqual({ ttl: null });
    expect(r.stdout).toBe('✓ pr-1 no longer expires\n');
  });

  it('rejects a malformed TTL', async () => {
    const r = await runCli(['extend', 'pr-1', 'soon'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid TTL "soon"');
    expect(agent.requests).toHaveLength(0);
  });
});

describe('init', () => {
  it('--empty --seed sends the seed files in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vela-cli-'));
    await writeFile(join(dir, 'schema.sql'), 'create table t (id int);');
    await writeFile(join(dir, 'rows.sql'), 'insert into t values (1);');
    const r = await runCli(['init', '--empty', '--seed', 'schema.sql', '--seed', 'rows.sql'], { env, cwd: dir });
    expect(r.code).toBe(0);
    expect(agent.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/init',
      body: {
        mode: 'empty',
        seeds: [
          { name: 'schema.sql', sql: 'create table t (id int);' },
          { name: 'rows.sql', sql: 'insert into t values (1);' },
        ],
      },
    });
    expect(r.stdout).toMatch(/^✓ main ready \(empty \+ 2 seed files\) in \d+ ms · database \S+ · port 5432\n$/);
  });

  it('needs exactly one mode', async () => {
    const r = await runCli(['init'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('init needs exactly one of --empty, --from-url URL, --replica-of URL');
    const both = await runCli(['init', '--empty', '--replica-of', 'postgresql://x@y/z'], { env });
    expect(both.code).toBe(2);
  });

  it('--from-url sends a logical import with its jobs; --jobs is checked', async () => {
    const r = await runCli(['init', '--from-url', 'postgresql://u:p@db:5432/shop', '--jobs', '4'], { env });
    expect(r.code).toBe(0);
    expect(agent.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/init',
      body: { mode: 'logical', sourceUrl: 'postgresql://u:p@db:5432/shop', jobs: 4 },
    });
    expect(r.stdout).toMatch(/^✓ main ready \(logical import\)/);
    expect((await runCli(['init', '--from-url', 'postgresql://u:p@db/shop', '--jobs', '99'], { env })).code).toBe(2);
  });

  it('names a seed file it cannot read', async () => {
    const r = await runCli(['init', '--empty', '--seed', 'missing.sql'], { env, cwd: tmpdir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('vela-branch: cannot read seed file missing.sql: ENOENT\n');
    expect(agent.requests).toHaveLength(0);
  });
});

/** A clock that returns the given instants in turn, then stays on the last. */
function fixedClock(instants: number[]): () => number {
  let i = 0;
  return () => instants[Math.min(i++, instants.length - 1)];
}
