import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, STATE } from '../../src/action/run.ts';
import { fakeCore, type FakeCore } from './helpers/fake-core.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { lockDownNetwork, releaseGitHubMocks } from '../helpers/github-mocks.ts';
import { githubEnv } from './helpers/github-env.ts';

const TOKEN = 'vela-test-token-0123456789';
let agent: FakeAgent;
const HOUR = 3_600_000;

beforeEach(async () => {
  agent = await new FakeAgent({ tokens: [TOKEN, 'oidc.jwt.value'], createdAgoMs: HOUR }).start();
  lockDownNetwork();
});
afterEach(async () => {
  const pending = releaseGitHubMocks();
  await agent.stop();
  expect(pending).toEqual([]);
});

const fast = { wait: { sleep: async () => {}, pollMs: 1 }, githubRetry: { sleep: async () => {} } };

async function runWith(
  inputs: Record<string, string>,
  env: NodeJS.ProcessEnv = githubEnv('pull_request', { pr: 12 }),
  opts: { idToken?: string } = {},
): Promise<FakeCore> {
  const fake = fakeCore({ 'agent-url': agent.url, token: TOKEN, ...inputs }, opts);
  await run({ core: fake.core, env, fetch: globalThis.fetch, ...fast });
  return fake;
}

/** Each secret form must be registered before any call that carries it, and never reach the log. */
function expectMaskedFirst(fake: FakeCore, secrets: string[]): void {
  for (const secret of secrets) {
    const maskedAt = fake.calls.findIndex((c) => c.fn === 'setSecret' && c.args[0] === secret);
    expect(maskedAt, `setSecret(${secret.length} chars) missing`).toBeGreaterThanOrEqual(0);
    const firstUse = fake.calls.findIndex((c) => c.fn !== 'setSecret' && c.args.some((a) => String(a).includes(secret)));
    if (firstUse >= 0) expect(maskedAt).toBeLessThan(firstUse);
    expect(fake.logText()).not.toContain(secret);
  }
}

describe('command ensure (default)', () => {
  it('creates pr-<n>, sets outputs and PG* env, saves state, masks first', async () => {
    const fake = await runWith({});
    expect(fake.failed).toEqual([]);
    const password = agent.passwordOf('pr-12-shop-d21b');
    const encoded = encodeURIComponent(password);
    expect(encoded).not.toBe(password);
    const uri = `postgresql://u_pr_12_shop_d21b:${encoded}@127.0.0.1:${agent.branches.get('pr-12-shop-d21b')!.port}/app`;
    expect(fake.outputs).toMatchObject({
      branch: 'pr-12-shop-d21b',
      created: 'true',
      'connection-string': uri,
      host: '127.0.0.1',
      database: 'app',
      user: 'u_pr_12_shop_d21b',
      password,
      skipped: 'false',
    });
    expect(fake.exported).toEqual({
      DATABASE_URL: uri,
      PGHOST: '127.0.0.1',
      PGPORT: String(agent.branches.get('pr-12-shop-d21b')!.port),
      PGUSER: 'u_pr_12_shop_d21b',
      PGPASSWORD: password,
      PGDATABASE: 'app',
    });
    expect(fake.state).toEqual({ [STATE.branch]: 'pr-12-shop-d21b', [STATE.created]: 'true' });
    expectMaskedFirst(fake, [password, encoded, uri, TOKEN]);
    const create = agent.requests.find((r) => r.method === 'POST');
    expect(create?.authorization).toBe(`Bearer ${TOKEN}`);
    expect(create?.body).toEqual({
      name: 'pr-12-shop-d21b',
      labels: { repo: 'acme/shop', pr: '12', sha: 'a'.repeat(40), actor: 'ada' },
      ifExists: 'return',
    });
    expect(fake.logText()).toContain('Branch pr-12-shop-d21b created from main');
  });

  it('returns the same branch with created=false on a re-run', async () => {
    const first = await runWith({});
    const second = await runWith({});
    expect(second.outputs.created).toBe('false');
    expect(second.outputs['connection-string']).toBe(first.outputs['connection-string']);
    expect(second.state[STATE.created]).toBe('false');
    expect(agent.prBranches()).toHaveLength(1);
  });

  it('gives parallel jobs one branch', async () => {
    const fakes = await Promise.all([runWith({}), runWith({}), runWith({})]);
    expect(fakes.map((f) => f.outputs.created).sort()).toEqual(['false', 'false', 'true']);
    expect(new Set(fakes.map((f) => f.outputs.password)).size).toBe(1);
  });

  it('names a push run run-<id>-<attempt>, passes parent/ttl and a custom env-var', async () => {
    agent.seed('staging');
    const fake = await runWith({ parent: 'staging', ttl: '2h', 'env-var': 'PG_URL' }, githubEnv('push'));
    expect(fake.outputs.branch).toBe('run-4567-2');
    expect(fake.exported.PG_URL).toBe(fake.outputs['connection-string']);
    expect(fake.exported).not.toHaveProperty('DATABASE_URL');
    expect(agent.requests[0]?.body).toMatchObject({ name: 'run-4567-2', parent: 'staging', ttl: '2h' });
  });

  it('waits for a branch that is still creating', async () => {
    await agent.stop();
    agent = await new FakeAgent({ tokens: [TOKEN], createState: 'creating', createdAgoMs: HOUR }).start();
    const fake = await runWith({});
    expect(fake.failed).toEqual([]);
    expect(fake.outputs.created).toBe('true');
    expect(agent.requests.filter((r) => r.method === 'GET').length).toBe(2);
  });

  it('starts a stopped branch before handing it out', async () => {
    agent.seed('pr-12-shop-d21b', { state: 'stopped' });
    const fake = await runWith({});
    expect(fake.outputs.created).toBe('false');
    expect(agent.requests.map((r) => `${r.method} ${r.path}`)).toContain('POST /v1/branches/pr-12-shop-d21b/start');
  });

  it('fails with the agent’s message when the token is wrong, without leaking it', async () => {
    const fake = await runWith({ token: 'wrong-token-abcdef' });
    expect(fake.failed).toEqual(['missing or unknown token']);
    expect(fake.secrets).toContain('wrong-token-abcdef');
  });
});

describe('ensure refuses a branch that is not the one asked for', () => {
  it('an existing branch with another parent: a clear failure, nothing exported', async () => {
    agent.seed('main-masked', { parent: 'main' });
    agent.seed('pr-12-shop-d21b', { parent: 'main', labels: { repo: 'acme/shop' } });
    const fake = await runWith({ parent: 'main-masked' });
    expect(fake.failed).toEqual([
      'branch pr-12-shop-d21b already exists with parent main, not main-masked: delete it to recreate it from main-masked, or ask for parent main',
    ]);
    expect(fake.exported).toEqual({});
    expect(fake.outputs).not.toHaveProperty('connection-string');
  });

  it("another repository's branch of that name: neither reused, relabelled nor deleted", async () => {
    agent.seed('shared-db', { labels: { repo: 'other/shop', pr: '12' } });
    const fake = await runWith({ branch: 'shared-db' });
    expect(fake.failed).toEqual([
      'branch shared-db belongs to repository other/shop, not acme/shop: not reusing it; pick another branch name',
    ]);
    const deleting = await runWith({ command: 'delete', branch: 'shared-db' });
    expect(deleting.failed[0]).toContain('not deleting it');
    expect(agent.branches.get('shared-db')!.labels).toEqual({ repo: 'other/shop', pr: '12' });
    expect(agent.countCalls('PATCH') + agent.countCalls('DELETE')).toBe(0);
  });
});

describe('command create', () => {
  it('creates, and refuses an existing branch pointing at ensure', async () => {
    expect((await runWith({ command: 'create', branch: 'qa-1' })).outputs.created).toBe('true');
    const again = await runWith({ command: 'create', branch: 'qa-1' });
    expect(again.failed[0]).toMatch(/branch qa-1 already exists; use `command: ensure`/);
    expect(agent.requests.at(-1)?.body).toMatchObject({ ifExists: 'fail' });
  });
});

describe('commands delete, reset, rebase', () => {
  it('delete removes the branch and is idempotent', async () => {
    agent.seed('pr-12-shop-d21b');
    const fake = await runWith({ command: 'delete' });
    expect(fake.failed).toEqual([]);
    expect(agent.branches.has('pr-12-shop-d21b')).toBe(false);
    expect(fake.logText()).toContain('Deleted pr-12-shop-d21b');
    const again = await runWith({ command: 'delete' });
    expect(again.failed).toEqual([]);
    expect(again.logText()).toContain('does not exist');
  });

  it('reset keeps the credentials and re-exports them, masked', async () => {
    agent.seed('qa');
    const fake = await runWith({ command: 'reset', branch: 'qa' });
    expect(fake.failed).toEqual([]);
    expect(agent.requests.at(-1)?.path).toBe('/v1/branches/qa/reset');
    expect(fake.outputs).toMatchObject({ created: 'false', password: agent.passwordOf('qa') });
    expect(fake.state).toEqual({});
    expectMaskedFirst(fake, [agent.passwordOf('qa'), encodeURIComponent(agent.passwordOf('qa'))]);
  });

  it('reset of a missing branch fails clearly', async () => {
    const fake = await runWith({ command: 'reset', branch: 'nope' });
    expect(fake.failed).toEqual(['branch nope not found']);
  });

  it('rebase succeeds, or reports conflicts and fails', async () => {
    agent.seed('qa');
    expect((await runWith({ command: 'rebase', branch: 'qa' })).failed).toEqual([]);
    await agent.stop();
    agent = await new FakeAgent({
      tokens: [TOKEN],
      createdAgoMs: HOUR,
      rebaseConflicts: [
        {
          kind: 'ddl_failed',
          table: null,
          key: null,
          statement: 'ALTER TABLE orders ADD COLUMN total numeric',
          current: null,
          message: 'column "total" of relation "orders" already exists',
          seq: 2,
        },
      ],
    }).start();
    agent.seed('qa');
    const fake = await runWith({ command: 'rebase', branch: 'qa' });
    expect(fake.failed[0]).toBe(
      [
        'rebase of qa stopped; the branch is unchanged (rebase of qa stopped at change log transaction 2: ddl_failed; the branch is unchanged)',
        '  ✗ ddl_failed: this DDL fails on the parent',
        '      branch: ALTER TABLE orders ADD COLUMN total numeric',
        '      why: column "total" of relation "orders" already exists',
      ].join('\n'),
    );
  });
});

describe('authentication', () => {
  it('uses the OIDC token for oidc-audience', async () => {
    const env = githubEnv('pull_request', {
      extra: { ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions.example/x', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'req' },
    });
    const fake = await runWith({ token: '', 'oidc-audience': 'vela.acme' }, env, { idToken: 'oidc.jwt.value' });
    expect(fake.failed).toEqual([]);
    expect(fake.idTokenAudiences).toEqual(['vela.acme']);
    expect(agent.requests[0]?.authorization).toBe('Bearer oidc.jwt.value');
    expect(fake.secrets).toContain('oidc.jwt.value');
  });

  it('says the workflow needs id-token: write when the runner offers no OIDC token', async () => {
    const fake = await runWith({ token: '', 'oidc-audience': 'vela.acme' });
    expect(fake.failed[0]).toContain('permissions: id-token: write');
    expect(fake.idTokenAudiences).toEqual([]);
    expect(agent.requests).toEqual([]);
  });

  it('asks for a token or oidc-audience when neither is set on a same-repo PR', async () => {
    const fake = await runWith({ token: '' });
    expect(fake.failed[0]).toMatch(/set the `token` input .* or `oidc-audience`/);
  });
});

describe('fork pull requests and Dependabot', () => {
  it.each([
    ['fork', githubEnv('pull_request', { fork: true })],
    ['dependabot', githubEnv('pull_request', { actor: 'dependabot[bot]' })],
  ])('%s without credentials: a notice and a clean skip', async (_kind, env) => {
    const fake = await runWith({ token: '' }, env);
    expect(fake.failed).toEqual([]);
    expect(fake.calls.filter((c) => c.fn === 'notice')).toHaveLength(1);
    expect(fake.logText()).toMatch(/vela-branch skipped: .*(fork|Dependabot)/);
    expect(fake.outputs).toEqual({ branch: 'pr-12-shop-d21b', skipped: 'true' });
    expect(fake.exported).toEqual({});
    expect(agent.requests).toEqual([]);
  });

  it('a fork run that does have a token (pull_request_target) proceeds', async () => {
    const fake = await runWith({}, githubEnv('pull_request', { fork: true }));
    expect(fake.outputs.created).toBe('true');
  });
});

describe('input validation surfaces as one failure', () => {
  it('fails before contacting the agent', async () => {
    const fake = await runWith({ branch: 'Not_Valid', ttl: '3 days' });
    expect(fake.failed).toHaveLength(1);
    expect(fake.failed[0]).toContain('input `branch`');
    expect(fake.failed[0]).toContain('input `ttl`');
    expect(agent.requests).toEqual([]);
  });
});
