import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { branchFixture, NOW, PASSWORD, runCli } from './helpers.ts';

const main = branchFixture({
  name: 'main',
  parent: null,
  port: 5432,
  protected: true,
  expiresAt: null,
  createdAt: new Date(NOW - 2 * 86_400_000 - 4 * 3_600_000).toISOString(),
  storage: { driver: 'btrfs', exclusiveBytes: 48_000_000 },
  timings: { createMs: null },
  connection: undefined,
});
const pr1 = branchFixture();
const { connection: _hidden, ...pr1Listed } = pr1;

let agent: FakeAgent;
let env: Record<string, string>;

beforeAll(async () => {
  agent = await new FakeAgent({
    main: false,
    diff: {
      parent: 'main',
      sql: 'ALTER TABLE "public"."users" ADD COLUMN "age" integer;\n',
      summary: ['column public.users.age added', 'index public.users_age added'],
      objects: {
        columns: { added: ['public.users.age'], dropped: [], changed: [] },
        indexes: { added: ['public.users_age'], dropped: [], changed: [] },
      },
      data: [
        { table: { schema: 'public', name: 'users' }, inserted: 12, updated: 3, deleted: 0 },
        { table: { schema: 'public', name: 'order_lines' }, inserted: 0, updated: 0, deleted: 1 },
      ],
    },
  }).start();
  agent.seed(main);
  agent.seed(pr1);
  agent.answer('GET /v1/audit', () => ({
    status: 200,
    body: {
      records: [
        { id: 1, time: '2025-11-25T11:57:00.000Z', actor: 'token:ci', action: 'create', branch: 'pr-1', result: 'ok', status: 201 },
        {
          id: 2,
          time: '2025-11-25T11:58:30.000Z',
          actor: 'oidc:acme/shop',
          action: 'delete',
          branch: 'main',
          result: 'denied',
          status: 403,
          detail: 'protected',
        },
      ],
    },
  }));
  env = { VELA_AGENT_URL: agent.url, VELA_TOKEN: 'tok-read-1' };
});
afterAll(() => agent.stop());

describe('list', () => {
  it('prints an aligned table with age, TTL left, size and create time', async () => {
    const r = await runCli(['list'], { env, now: () => NOW });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^NAME\s+STATE\s+PARENT\s+PORT\s+AGE\s+TTL\s+SIZE\s+CREATE$/);
    // Every column starts at the same offset in every row.
    const stateCol = lines[0].indexOf('STATE');
    expect(lines[1].indexOf('ready')).toBe(stateCol);
    expect(lines[2].indexOf('ready')).toBe(stateCol);
    expect(lines[1]).toMatch(/^main \(protected\)\s+ready\s+-\s+5432\s+2d 4h\s+-\s+46 MiB\s+-$/);
    expect(lines[2]).toMatch(/^pr-1\s+ready\s+main\s+55001\s+3m\s+6d 23h\s+1\.5 MiB\s+142 ms$/);
  });

  it('--json prints the agent answer unchanged', async () => {
    const r = await runCli(['list', '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ branches: [main, pr1Listed] });
  });

  it('sends VELA_TOKEN as a bearer token', async () => {
    agent.requests.length = 0;
    await runCli(['list'], { env });
    expect(agent.requests[0]?.authorization).toBe('Bearer tok-read-1');
  });
});

describe('show', () => {
  it('prints the branch but hides the password', async () => {
    const r = await runCli(['show', 'pr-1'], { env, now: () => NOW });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(PASSWORD);
    expect(r.stdout).toMatch(/^password:\s+\(hidden; use vela-branch url pr-1\)$/m);
    expect(r.stdout).toMatch(/^port:\s+55001$/m);
    expect(r.stdout).toMatch(/^expires:\s+2025-12-02 11:00:00 UTC \(6d 23h\)$/m);
    expect(r.stdout).toMatch(/^labels:\s+repo=acme\/shop, pr=1$/m);
  });

  it('--json keeps the connection but strips the password from it and from the URI', async () => {
    const r = await runCli(['show', 'pr-1', '--json'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(PASSWORD);
    const shown = JSON.parse(r.stdout);
    expect(shown.name).toBe('pr-1');
    expect(shown.connection.password).toBeUndefined();
    expect(shown.connection.uri).toBe('postgresql://app@127.0.0.1:55001/app');
  });
});

describe('url', () => {
  it('prints only the URI, password included', async () => {
    const r = await runCli(['url', 'pr-1'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pr1.connection!.uri}\n`);
  });

  it('explains why a stopped branch has no URI', async () => {
    agent.seed(branchFixture({ name: 'pr-2', state: 'stopped', connection: undefined }));
    const r = await runCli(['url', 'pr-2'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'vela-branch: branch pr-2 is stopped, only a ready branch has connection info; start it with: vela-branch start pr-2\n',
    );
  });
});

describe('diff', () => {
  it('prints the headline, the schema changes, the rows changed per table, then the SQL', async () => {
    const r = await runCli(['diff', 'pr-1'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'pr-1: 2 schema changes against main; rows changed in 2 tables (12 inserted, 3 updated, 1 deleted)',
        '',
        'Schema:',
        '  + column public.users.age',
        '  + index public.users_age',
        '',
        'Rows changed since the fork:',
        '  TABLE               INSERTED  UPDATED  DELETED',
        '  public.users              12        3        0',
        '  public.order_lines         0        0        1',
        '',
        'SQL:',
        'ALTER TABLE "public"."users" ADD COLUMN "age" integer;',
        '',
      ].join('\n'),
    );
  });

  it('--sql prints only the SQL; --json the whole answer; --rows asks for a sample of keys', async () => {
    expect((await runCli(['diff', 'pr-1', '--sql'], { env })).stdout).toBe('ALTER TABLE "public"."users" ADD COLUMN "age" integer;\n');
    expect(JSON.parse((await runCli(['diff', 'pr-1', '--json'], { env })).stdout)).toMatchObject({
      parent: 'main',
      data: [{ inserted: 12 }, { deleted: 1 }],
    });
    agent.requests.length = 0;
    await runCli(['diff', 'pr-1', '--rows', '5'], { env });
    expect(agent.requests.at(-1)?.path).toBe('/v1/branches/pr-1/diff?rows=5');
  });

  it('--rows that is not a number from 0 to 100 is a usage error naming it, and asks the agent nothing', async () => {
    agent.requests.length = 0;
    const r = await runCli(['diff', 'pr-1', '--rows', 'many'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--rows takes a whole number from 0 to 100 (got many)');
    expect(agent.requests).toEqual([]);
  });
});

describe('audit', () => {
  it('prints a table and passes --limit through', async () => {
    agent.requests.length = 0;
    const r = await runCli(['audit', '--limit', '5'], { env });
    expect(r.code).toBe(0);
    expect(agent.requests[0]?.path).toBe('/v1/audit?limit=5');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME \(UTC\)\s+ACTOR\s+ACTION\s+BRANCH\s+RESULT\s+STATUS\s+DETAIL$/);
    expect(lines[2]).toMatch(/^2025-11-25 11:58:30\s+oidc:acme\/shop\s+delete\s+main\s+denied\s+403\s+protected$/);
  });

  it('--json prints the records', async () => {
    const r = await runCli(['audit', '--json'], { env });
    expect(JSON.parse(r.stdout).records.map((x: { id: number }) => x.id)).toEqual([1, 2]);
  });

  it('rejects a bad --limit before asking the agent', async () => {
    agent.requests.length = 0;
    const r = await runCli(['audit', '--limit', 'lots'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vela-branch: --limit must be a whole number from 1 to 1000, got "lots" \(see vela-branch audit --help\)\n$/);
    expect(agent.requests).toHaveLength(0);
  });
});
