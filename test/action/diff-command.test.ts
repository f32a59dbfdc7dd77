import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/action/run.ts';
import type { DiffResult } from '../../src/core/api/index.ts';
import { FakeAgent, FAKE_DIFF } from '../helpers/fake-agent.ts';
import { lockDownNetwork, releaseGitHubMocks } from '../helpers/github-mocks.ts';
import { fakeCore, type FakeCore } from './helpers/fake-core.ts';
import { githubEnv } from './helpers/github-env.ts';

// `command: diff` and `report` with `diff: true`, end to end in-process: fake agent, nock'd GitHub.
const TOKEN = 'vela-test-token-0123456789';
const API = 'https://api.github.com';
const BRANCH = 'pr-12-shop-d21b';
let agent: FakeAgent;

beforeEach(async () => {
  agent = await new FakeAgent({ tokens: [TOKEN] }).start();
  agent.seed(BRANCH);
  lockDownNetwork();
});
afterEach(async () => {
  const pending = releaseGitHubMocks();
  await agent.stop();
  expect(pending).toEqual([]);
});

async function runWith(inputs: Record<string, string>, env: NodeJS.ProcessEnv = githubEnv('pull_request', { pr: 12 })): Promise<FakeCore> {
  const fake = fakeCore({ 'agent-url': agent.url, token: TOKEN, 'github-token': 'ghs_abc123456', ...inputs });
  await run({ core: fake.core, env, fetch: globalThis.fetch, githubRetry: { sleep: async () => {} } });
  return fake;
}

/** GitHub with no comment yet: captures the body of the one comment created. */
function expectNewComment(): { body: string } {
  const got = { body: '' };
  nock(API)
    .get('/user')
    .reply(403, {})
    .get('/repos/acme/shop/issues/12/comments')
    .query(true)
    .reply(200, [])
    .post('/repos/acme/shop/issues/12/comments', (b: { body: string }) => ((got.body = b.body), true))
    .reply(201, { id: 5, html_url: 'https://github.com/acme/shop/pull/12#issuecomment-5' });
  return got;
}

describe('command diff', () => {
  it('on a PR: one sticky comment with the diff collapsed, the same in the job summary, outputs set', async () => {
    const comment = expectNewComment();
    const fake = await runWith({ command: 'diff' });
    expect(fake.failed).toEqual([]);
    expect(agent.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/branches/${BRANCH}/diff?rows=0`]);
    expect(comment.body.startsWith(`<!-- vela-branch:diff:test -->\n### 🗄️ Database branch \`${BRANCH}\`\n\n<details><summary>`)).toBe(
      true,
    );
    expect(comment.body).toContain('1 schema change against main; rows changed in 2 tables (3 inserted, 1 updated, 2 deleted)</summary>');
    expect(comment.body).toContain('| `public.orders` | 0 | 0 | 2 |');
    expect(comment.body.trimEnd().endsWith('</details>')).toBe(true);
    expect(fake.summary).toEqual([`${comment.body}\n`]);
    expect(fake.outputs).toMatchObject({ branch: BRANCH, 'schema-changes': '1', 'diff-sql': FAKE_DIFF.sql });
    expect(fake.logText()).toContain('PR comment created');
  });

  it('a diff far over 65,536 characters: the comment is cut at a statement and stays under the limit', async () => {
    const stmts = Array.from({ length: 3_000 }, (_, i) => `CREATE INDEX idx_${i} ON public.big USING btree (col_${i}, ${'c'.repeat(30)});`);
    const big: DiffResult = { ...FAKE_DIFF, sql: `${stmts.join('\n\n')}\n`, summary: stmts.map((_, i) => `index public.idx_${i} added`) };
    agent.answer(`GET /v1/branches/${BRANCH}/diff`, () => ({ status: 200, body: big }));
    const comment = expectNewComment();
    const fake = await runWith({ command: 'diff' });
    expect(fake.failed).toEqual([]);
    expect(comment.body.length).toBeLessThanOrEqual(65_536);
    expect(comment.body).toMatch(
      /-- … [\d,]+ more characters cut to fit the comment: vela-branch diff pr-12-shop-d21b prints it all\n```\n\n<\/details>/,
    );
  });

  it('diff-rows asks the agent for a sample of keys; a fork PR writes the summary only', async () => {
    const env = githubEnv('pull_request', { pr: 12, fork: true });
    const fake = await runWith({ command: 'diff', 'diff-rows': '3' }, env);
    expect(fake.failed).toEqual([]);
    expect(agent.requests.at(-1)?.path).toBe(`/v1/branches/${BRANCH}/diff?rows=3`);
    expect(fake.summary[0]).toContain('<details>');
    expect(fake.logText()).toContain('No PR comment: pull requests from forks get a read-only token');
  });

  it('the agent refusing (e.g. a stopped parent) fails the step with its message', async () => {
    agent.answer(`GET /v1/branches/${BRANCH}/diff`, () => ({
      status: 409,
      body: {
        error: { code: 'conflict', message: 'parent main of pr-12-shop-d21b is stopped: start it (vela-branch start main) and retry' },
      },
    }));
    const fake = await runWith({ command: 'diff', branch: BRANCH }, githubEnv('push'));
    expect(fake.failed.join('\n')).toContain('parent main of pr-12-shop-d21b is stopped');
  });
});

describe('command report with diff: true', () => {
  it('appends the diff as a collapsed section after the test results, in one comment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vela-junit-'));
    writeFileSync(join(dir, 'ok.xml'), '<testsuite name="s" tests="1"><testcase name="t"/></testsuite>');
    const comment = expectNewComment();
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, diff: 'true' });
    expect(fake.failed).toEqual([]);
    const body = comment.body;
    expect(body.startsWith('<!-- vela-branch:report:test -->')).toBe(true);
    expect(body.indexOf('All 1 test passed')).toBeLessThan(body.indexOf('<details><summary>🗄️ Database diff of'));
    expect(body).toContain('ADD COLUMN "nickname" text;\n```\n\n</details>');
  });

  it('the agent failing the diff leaves the report whole, with a warning', async () => {
    agent.answer(`GET /v1/branches/${BRANCH}/diff`, () => ({ status: 500, body: { error: { code: 'internal', message: 'boom' } } }));
    const dir = mkdtempSync(join(tmpdir(), 'vela-junit-'));
    writeFileSync(join(dir, 'ok.xml'), '<testsuite name="s" tests="1"><testcase name="t"/></testsuite>');
    const fake = await runWith({ command: 'report', junit: `${dir}/*.xml`, diff: 'true', branch: BRANCH }, githubEnv('push'));
    expect(fake.failed).toEqual([]);
    expect(fake.summary[0]).toContain('All 1 test passed');
    expect(fake.summary[0]).not.toContain('Database diff');
    expect(fake.logText()).toContain(`could not get the diff of ${BRANCH} from the agent`);
  });
});
