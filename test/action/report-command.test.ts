import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/action/run.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { lockDownNetwork, releaseGitHubMocks } from '../helpers/github-mocks.ts';
import { fakeCore, type FakeCore } from './helpers/fake-core.ts';
import { githubEnv } from './helpers/github-env.ts';

// `command: report` run end to end in-process: fake agent, nock'd GitHub.
const TOKEN = 'vela-test-token-0123456789';
const HOUR = 3_600_000;
let agent: FakeAgent;

beforeEach(async () => {
  agent = await new FakeAgent({ tokens: [TOKEN], createdAgoMs: HOUR }).start();
  lockDownNetwork();
});
afterEach(async () => {
  const pending = releaseGitHubMocks();
  await agent.stop();
  expect(pending).toEqual([]);
});

async function runWith(inputs: Record<string, string>, env: NodeJS.ProcessEnv = githubEnv('pull_request', { pr: 12 })): Promise<FakeCore> {
  const fake = fakeCore({ 'agent-url': agent.url, token: TOKEN, ...inputs });
  await run({ core: fake.core, env, fetch: globalThis.fetch, githubRetry: { sleep: async () => {} } });
  return fake;
}

describe('command report', () => {
  const fixtures = join(import.meta.dirname, '../fixtures/junit');
  const reportDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'vela-junit-'));
    for (const f of ['jest-junit.xml', 'pytest.xml']) copyFileSync(join(fixtures, f), join(dir, f));
    writeFileSync(join(dir, 'coverage.xml'), '<coverage line-rate="0.9"/>');
    return dir;
  };
  const API = 'https://api.github.com';

  it('on a PR: sticky comment created, same text in the job summary, branch age from the agent', async () => {
    agent.seed('pr-12-shop-d21b');
    const dir = reportDir();
    let body = '';
    nock(API)
      .get('/user')
      .reply(403, { message: 'Resource not accessible by integration' })
      .get('/repos/acme/shop/issues/12/comments')
      .query(true)
      .reply(200, [])
      .post('/repos/acme/shop/issues/12/comments', (b: { body: string }) => ((body = b.body), true))
      .reply(201, {
        id: 99,
        body: '',
        user: { login: 'github-actions[bot]' },
        html_url: 'https://github.com/acme/shop/pull/12#issuecomment-99',
      });
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, 'github-token': 'ghs_abc123456' });
    expect(fake.failed).toEqual([]);
    expect(body.startsWith('<!-- vela-branch:report:test -->')).toBe(true);
    expect(body).toContain('| 8 | 4 (1 errors) | 3 | 15 |');
    expect(body).toContain('Database branch `pr-12-shop-d21b`, created 1h ago');
    expect(fake.summary).toEqual([`${body}\n`]);
    expect(fake.logText()).toContain('PR comment created: https://github.com/acme/shop/pull/12#issuecomment-99');
    expect(fake.logText()).toMatch(/not a JUnit report, skipped: .*coverage\.xml/);
    expect(fake.secrets).toEqual(expect.arrayContaining(['ghs_abc123456', TOKEN]));
  });

  it('strips the branch password, the URI, their URL-encoded forms and any postgres URL credentials from every excerpt', async () => {
    agent.seed('pr-12-shop-d21b');
    const conn = agent.branches.get('pr-12-shop-d21b')!.connection!;
    const encoded = encodeURIComponent(conn.password);
    const dir = mkdtempSync(join(tmpdir(), 'vela-junit-'));
    writeFileSync(
      join(dir, 'leaky.xml'),
      `<testsuite name="db" tests="1" failures="1"><testcase classname="db" name="connects to ${conn.uri}">` +
        `<failure message="DATABASE_URL=${conn.uri} refused">password ${conn.password} (encoded ${encoded})\n` +
        `other: postgres://admin:hunter2@10.0.0.5/prod and host=db password=s3cr3t user=x</failure></testcase></testsuite>`,
    );
    let body = '';
    nock(API)
      .get('/user')
      .reply(403, {})
      .get('/repos/acme/shop/issues/12/comments')
      .query(true)
      .reply(200, [])
      .post('/repos/acme/shop/issues/12/comments', (b: { body: string }) => ((body = b.body), true))
      .reply(201, { id: 7, html_url: 'https://github.com/acme/shop/pull/12#issuecomment-7' });
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, 'github-token': 'ghs_abc123456' });
    expect(fake.failed).toEqual([]);
    expect(body).toContain('1 test failed');
    for (const text of [body, fake.summary.join('')]) {
      for (const secret of [conn.password, encoded, conn.uri, 'hunter2', 's3cr3t']) expect(text).not.toContain(secret);
    }
    expect(body).toContain('postgres://admin:***@10.0.0.5/prod');
    expect(body).toContain('password=***');
  });

  it('also strips what an earlier step exported (DATABASE_URL, PGPASSWORD) when the agent is not asked', async () => {
    const password = 'exp0rted-p@ss/word';
    const uri = `postgresql://u_x:${encodeURIComponent(password)}@db.internal:5432/app`;
    const dir = mkdtempSync(join(tmpdir(), 'vela-junit-'));
    writeFileSync(
      join(dir, 'leaky.xml'),
      `<testsuite name="db" tests="1" failures="1"><testcase name="t"><failure>url ${uri}; raw ${password}</failure></testcase></testsuite>`,
    );
    const env = { ...githubEnv('push'), DATABASE_URL: uri, PGPASSWORD: password };
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, 'agent-url': '', token: '' }, env);
    expect(fake.failed).toEqual([]);
    expect(fake.summary[0]).toContain('1 test failed');
    expect(fake.summary[0]).not.toContain(password);
    expect(fake.summary[0]).not.toContain(encodeURIComponent(password));
    expect(agent.requests).toEqual([]);
  });

  it('on a re-run: updates the same comment instead of adding one', async () => {
    const dir = reportDir();
    nock(API)
      .get('/user')
      .reply(403, {})
      .get('/repos/acme/shop/issues/12/comments')
      .query(true)
      .reply(200, [{ id: 42, body: '<!-- vela-branch:report:test -->\nold', user: { login: 'github-actions[bot]' } }])
      .patch('/repos/acme/shop/issues/comments/42')
      .reply(200, { id: 42, html_url: 'https://github.com/acme/shop/pull/12#issuecomment-42' });
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, 'github-token': 'ghs_abc123456', 'agent-url': '', token: '' });
    expect(fake.failed).toEqual([]);
    expect(fake.logText()).toContain('PR comment updated');
    expect(agent.requests).toEqual([]);
  });

  it('on push: job summary only, no GitHub API calls', async () => {
    const fake = await runWith(
      { command: 'report', junit: join(fixtures, 'vitest.xml'), 'github-token': 'ghs_abc123456' },
      githubEnv('push'),
    );
    expect(fake.failed).toEqual([]);
    expect(fake.summary[0]).toContain('❌ 1 test failed out of 6');
    expect(fake.logText()).toContain('No PR comment: not a pull request event');
  });

  it('on a fork PR: job summary and a notice, no comment attempt', async () => {
    const fake = await runWith(
      { command: 'report', junit: join(fixtures, 'go-junit-report.xml'), 'github-token': 'ghs_ro', token: '' },
      githubEnv('pull_request', { fork: true }),
    );
    expect(fake.failed).toEqual([]);
    expect(fake.summary[0]).toContain('2 tests failed out of 9');
    expect(fake.calls.find((c) => c.fn === 'notice')?.args[0]).toContain('forks get a read-only token');
  });

  it('with a read-only token (Dependabot): warns with the permission to add, does not fail', async () => {
    nock(API)
      .get('/user')
      .reply(403, {})
      .get('/repos/acme/shop/issues/12/comments')
      .query(true)
      .reply(200, [])
      .post('/repos/acme/shop/issues/12/comments')
      .reply(403, { message: 'Resource not accessible by integration' });
    const fake = await runWith(
      { command: 'report', junit: join(fixtures, 'pytest.xml'), 'github-token': 'ghs_ro', token: '' },
      githubEnv('pull_request', { actor: 'dependabot[bot]' }),
    );
    expect(fake.failed).toEqual([]);
    expect(fake.calls.find((c) => c.fn === 'warning')?.args[0]).toContain('permissions: pull-requests: write');
    expect(fake.summary).toHaveLength(1);
  });
});
