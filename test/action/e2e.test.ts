import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentClient } from '../../src/core/client.ts';
import { startTestAgent, type TestAgent } from '../helpers/agent-harness.ts';
import { describeWithPool } from '../helpers/env.ts';

const ROOT = join(import.meta.dirname, '../..');

interface StepResult {
  code: number | null;
  log: string;
  outputs: Record<string, string>;
  env: Record<string, string>;
  state: Record<string, string>;
  summary: string;
}

/** Reads a GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE file (`name<<delim` heredoc or `name=value` lines). */
function parseFileCommands(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = readFileSync(path, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = line.match(/^([^=<]+)<<(.+)$/);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      out[heredoc[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

/**
 * Runs one entry of the bundle the way the runner does: INPUT_* env (names upper-cased, dashes kept),
 * fresh file-command files, the event payload, and for the post step STATE_* from the main step.
 */
async function runStep(
  script: string,
  inputs: Record<string, string>,
  opts: { event: object; state?: Record<string, string>; env?: Record<string, string> },
): Promise<StepResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vela-step-'));
  const files = {
    GITHUB_OUTPUT: 'output',
    GITHUB_ENV: 'env',
    GITHUB_STATE: 'state',
    GITHUB_STEP_SUMMARY: 'summary',
    GITHUB_EVENT_PATH: 'event.json',
  };
  const fileEnv = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, join(dir, f)]));
  for (const path of Object.values(fileEnv)) writeFileSync(path, '');
  writeFileSync(fileEnv.GITHUB_EVENT_PATH, JSON.stringify(opts.event));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'c'.repeat(40),
    GITHUB_ACTOR: 'ada',
    GITHUB_RUN_ID: '777',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'test',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    ...fileEnv,
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    ...Object.fromEntries(Object.entries(opts.state ?? {}).map(([k, v]) => [`STATE_${k}`, v])),
    ...opts.env,
  };
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    code,
    log,
    outputs: parseFileCommands(fileEnv.GITHUB_OUTPUT),
    env: parseFileCommands(fileEnv.GITHUB_ENV),
    state: parseFileCommands(fileEnv.GITHUB_STATE),
    summary: readFileSync(fileEnv.GITHUB_STEP_SUMMARY, 'utf8'),
  };
}

/** The runner hides `::add-mask::` lines and masks later output; any other line showing a secret is a leak. */
function leakedLines(log: string, secrets: string[]): string[] {
  return log.split('\n').filter((l) => !l.startsWith('::add-mask::') && secrets.some((s) => l.includes(s)));
}

const psql = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execFileSync('psql', ['-X', '-A', '-t', ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' }).trim();

describeWithPool('action bundle end to end against a real agent', () => {
  let agent: TestAgent;
  let bundle: string;
  const event = {
    action: 'synchronize',
    number: 41,
    pull_request: {
      number: 41,
      head: { sha: 'a'.repeat(40), repo: { full_name: 'acme/shop' } },
      base: { sha: 'b'.repeat(40), repo: { full_name: 'acme/shop' } },
    },
  };

  beforeAll(async () => {
    // Build from the current sources with the same script that produces the committed dist/.
    bundle = mkdtempSync(join(tmpdir(), 'vela-dist-'));
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-action.mjs'), bundle], { stdio: 'inherit' });
    agent = await startTestAgent({ tag: 'action-e2e' });
  });

  afterAll(async () => {
    await agent?.destroy();
  });

  it('ensure exports a working DATABASE_URL, re-runs reuse it, post deletes only what it created', async () => {
    const inputs = { 'agent-url': agent.url, token: agent.token, 'delete-on-complete': 'true' };
    const first = await runStep(join(bundle, 'main.js'), inputs, { event });
    expect(first.code, first.log).toBe(0);
    expect(first.outputs).toMatchObject({ branch: 'pr-41-shop-d21b', created: 'true' });
    const url = first.env.DATABASE_URL;
    expect(url).toBe(first.outputs['connection-string']);
    const password = first.outputs.password;
    expect(password.length).toBeGreaterThan(8);

    // The exported URL and the PG* variables both reach the branch.
    expect(psql([url, '-c', 'SELECT 1'])).toBe('1');
    expect(
      psql(['-c', 'SELECT current_user'], {
        PGHOST: first.env.PGHOST,
        PGPORT: first.env.PGPORT,
        PGUSER: first.env.PGUSER,
        PGPASSWORD: first.env.PGPASSWORD,
        PGDATABASE: first.env.PGDATABASE,
      }),
    ).toBe(first.outputs.user);
    psql([url, '-c', 'CREATE TABLE e2e_marker (id int)']);

    // A second run (re-run, or a parallel job of the same PR) gets the same branch, not a new one.
    const second = await runStep(join(bundle, 'main.js'), inputs, { event });
    expect(second.code, second.log).toBe(0);
    expect(second.outputs).toMatchObject({ branch: 'pr-41-shop-d21b', created: 'false', 'connection-string': url });
    expect(psql([url, '-c', "SELECT to_regclass('e2e_marker') IS NOT NULL"])).toBe('t');

    // The second run's post step must keep the branch: it did not create it.
    const secondPost = await runStep(join(bundle, 'post.js'), inputs, { event, state: second.state });
    expect(secondPost.code, secondPost.log).toBe(0);
    const client = new AgentClient({ url: agent.url, token: agent.token });
    expect((await client.get('pr-41-shop-d21b')).name).toBe('pr-41-shop-d21b');

    // The first run's post step deletes what it created.
    const firstPost = await runStep(join(bundle, 'post.js'), inputs, { event, state: first.state });
    expect(firstPost.code, firstPost.log).toBe(0);
    expect(firstPost.log).toContain('deleted branch pr-41-shop-d21b');
    await expect(client.get('pr-41-shop-d21b')).rejects.toMatchObject({ status: 404 });

    const secrets = [password, encodeURIComponent(password), url, agent.token];
    for (const step of [first, second, secondPost, firstPost]) expect(leakedLines(step.log, secrets)).toEqual([]);
    expect(first.log).toContain(`::add-mask::${password}`);
    if (process.env.VELA_E2E_SHOW_LOGS) console.log(first.log, second.log, secondPost.log, firstPost.log);
  });

  it('two repositories with PR 41 get two branches; a report of test output echoing DATABASE_URL shows no credential', async () => {
    const inputs = { 'agent-url': agent.url, token: agent.token };
    const otherEvent = structuredClone(event);
    otherEvent.pull_request.head.repo.full_name = 'other/shop';
    otherEvent.pull_request.base.repo.full_name = 'other/shop';
    const acme = await runStep(join(bundle, 'main.js'), inputs, { event });
    const other = await runStep(join(bundle, 'main.js'), inputs, { event: otherEvent, env: { GITHUB_REPOSITORY: 'other/shop' } });
    expect(acme.code, acme.log).toBe(0);
    expect(other.code, other.log).toBe(0);
    expect(acme.outputs).toMatchObject({ branch: 'pr-41-shop-d21b', created: 'true' });
    expect(other.outputs).toMatchObject({ branch: 'pr-41-shop-758b', created: 'true' });
    const client = new AgentClient({ url: agent.url, token: agent.token });
    expect((await client.get('pr-41-shop-d21b')).labels.repo).toBe('acme/shop');
    expect((await client.get('pr-41-shop-758b')).labels.repo).toBe('other/shop');
    psql([acme.env.DATABASE_URL, '-c', 'CREATE TABLE only_in_acme (id int)']);
    expect(psql([other.env.DATABASE_URL, '-c', "SELECT to_regclass('only_in_acme') IS NULL"])).toBe('t');

    // A later step's JUnit output prints the connection string, the password and its encoded form.
    const { password } = acme.outputs;
    const url = acme.env.DATABASE_URL;
    const reports = mkdtempSync(join(tmpdir(), 'vela-e2e-junit-'));
    writeFileSync(
      join(reports, 'junit.xml'),
      `<testsuite name="db" tests="2" failures="1"><testcase name="ok"/><testcase name="migrates">` +
        `<failure message="could not connect to ${url}">DATABASE_URL=${url}\nPGPASSWORD=${password}\n` +
        `encoded ${encodeURIComponent(password)}</failure></testcase></testsuite>`,
    );
    const report = await runStep(
      join(bundle, 'main.js'),
      { ...inputs, command: 'report', junit: `${reports}/*.xml`, comment: 'false' },
      { event, env: { DATABASE_URL: url, PGPASSWORD: password } },
    );
    expect(report.code, report.log).toBe(0);
    expect(report.summary).toContain('1 test failed out of 2');
    expect(report.summary).toContain('could not connect to ***');
    for (const secret of [password, encodeURIComponent(password), url]) {
      expect(report.summary).not.toContain(secret);
      expect(leakedLines(report.log, [secret])).toEqual([]);
    }

    for (const name of ['pr-41-shop-d21b', 'pr-41-shop-758b']) await client.delete(name);
  });

  it('fails cleanly with a wrong token and prints nothing secret', async () => {
    const res = await runStep(join(bundle, 'main.js'), { 'agent-url': agent.url, token: 'not-the-token-0000' }, { event });
    expect(res.code).toBe(1);
    expect(res.log).toMatch(/::error::/);
    expect(leakedLines(res.log, ['not-the-token-0000', agent.token])).toEqual([]);
  });
});
