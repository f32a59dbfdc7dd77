import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BRANCH_NAME_RULE } from '../../src/core/names.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { branchFixture, runCli } from './helpers.ts';

let agent: FakeAgent;
let env: Record<string, string>;

beforeAll(async () => {
  agent = await new FakeAgent().start();
  agent.seed(branchFixture());
  agent.answer('POST /v1/branches/pr-1/rebase', () => ({
    status: 409,
    body: {
      error: {
        code: 'rebase_conflict',
        message: 'rebase of pr-1 stopped at change log transaction 4: row_missing on public.users; the branch is unchanged',
        conflicts: [
          {
            kind: 'row_missing',
            table: 'public.users',
            key: { id: '9' },
            statement: "UPDATE public.users SET email = 'x@example.com' WHERE id = '9'",
            current: null,
            message: 'the branch updated a row the parent no longer has',
            seq: 4,
          },
        ],
      },
    },
  }));
  agent.answer('GET /v1/branches/pr-1', () => ({
    status: 500,
    body: { error: { code: 'internal', message: 'internal error (request r-17)' } },
  }));
  env = { VELA_AGENT_URL: agent.url, VELA_TOKEN: 'tok-secret-abc' };
});
afterAll(() => agent.stop());
beforeEach(() => {
  agent.requests.length = 0;
});

describe('usage errors exit 2 with a hint to --help', () => {
  it('names an unknown command', async () => {
    const r = await runCli(['lst'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('vela-branch: unknown command "lst"; did you mean list? (see vela-branch --help)\n');
  });

  it('names an unknown flag and the command it was given to', async () => {
    const r = await runCli(['delete', 'pr-1', '--recursive'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('vela-branch: unknown option --recursive for delete (see vela-branch delete --help)\n');
  });

  it('says which argument is missing or extra', async () => {
    expect((await runCli(['show'], { env })).stderr).toBe('vela-branch: show needs NAME [--json] (see vela-branch show --help)\n');
    expect((await runCli(['show', 'a', 'b'], { env })).stderr).toBe(
      'vela-branch: unexpected argument for show: b (see vela-branch show --help)\n',
    );
    expect((await runCli(['create', 'x', '--ttl'], { env })).stderr).toBe(
      'vela-branch: option --ttl of create needs a value (see vela-branch create --help)\n',
    );
  });

  it('prints the overview on stderr with no command at all', async () => {
    const r = await runCli([], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: vela-branch COMMAND');
  });

  it.each(['show', 'url', 'psql', 'reset', 'delete', 'rebase', 'diff', 'stop', 'start', 'create'])(
    '%s rejects a bad branch name with the naming rule, without a request',
    async (command) => {
      const r = await runCli([command, 'PR_1'], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`vela-branch: invalid branch name "PR_1": ${BRANCH_NAME_RULE} (see vela-branch ${command} --help)\n`);
      expect(agent.requests).toHaveLength(0);
    },
  );

  it('rejects a VELA_AGENT_URL that is not a URL', async () => {
    const r = await runCli(['list'], { env: { VELA_AGENT_URL: 'localhost:7070' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vela-branch: VELA_AGENT_URL must be an http\(s\) URL/);
  });
});

describe('agent errors exit 1 with the agent message on one line', () => {
  it('409 on create', async () => {
    const r = await runCli(['create', 'pr-1'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('creating pr-1…\nvela-branch: branch pr-1 already exists; use ifExists "return" to reuse it\n');
  });

  it('403 on a protected branch', async () => {
    const r = await runCli(['delete', 'main'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('vela-branch: main is protected: deleting it needs force and an admin token');
  });

  it('rebase conflicts are listed under the error line', async () => {
    const r = await runCli(['rebase', 'pr-1'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      [
        'vela-branch: rebase of pr-1 stopped at change log transaction 4: row_missing on public.users; the branch is unchanged',
        '  ✗ row_missing on public.users: the parent no longer has this row',
        "      branch: UPDATE public.users SET email = 'x@example.com' WHERE id = '9'",
        '      key: id=9',
        '      parent now: (none)',
        '      why: the branch updated a row the parent no longer has',
        '  the branch was left exactly as it was',
        '',
      ].join('\n'),
    );
  });

  it('5xx shows the agent message and never the token', async () => {
    const r = await runCli(['show', 'pr-1'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('vela-branch: internal error (request r-17)\n');
    expect(r.stderr).not.toContain(env.VELA_TOKEN);
  });

  it('an unreachable agent names the URL and how to start one', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['list'], { env: { VELA_AGENT_URL: url } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `vela-branch: cannot reach the vela agent at ${url} (ECONNREFUSED); start one with \`vela-branch agent\` or point VELA_AGENT_URL at a running agent\n`,
    );
  });
});

describe('token discovery', () => {
  it('uses ./.vela/admin-token when VELA_TOKEN is unset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vela-cli-'));
    await mkdir(join(dir, '.vela'));
    await writeFile(join(dir, '.vela', 'admin-token'), 'adm-from-file\n', { mode: 0o600 });
    const r = await runCli(['list'], { env: { VELA_AGENT_URL: agent.url }, cwd: dir });
    expect(r.code).toBe(0);
    expect(agent.requests[0]?.authorization).toBe('Bearer adm-from-file');
  });

  it('VELA_TOKEN wins over the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vela-cli-'));
    await mkdir(join(dir, '.vela'));
    await writeFile(join(dir, '.vela', 'admin-token'), 'adm-from-file\n');
    await runCli(['list'], { env: { VELA_AGENT_URL: agent.url, VELA_TOKEN: 'from-env' }, cwd: dir });
    expect(agent.requests[0]?.authorization).toBe('Bearer from-env');
  });

  it('without any token a 401 says how to provide one', async () => {
    const r = await runCli(['list'], { env: { VELA_AGENT_URL: agent.url }, cwd: tmpdir() });
    expect(r.code).toBe(1);
    expect(agent.requests[0]?.authorization).toBeUndefined();
    expect(r.stderr).toBe(
      'vela-branch: missing bearer token (no token: set VELA_TOKEN, or run from the directory holding .vela/admin-token)\n',
    );
  });
});

/** A port nothing listens on: bind, note it, release. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
