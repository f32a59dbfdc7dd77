import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnFn } from '../../src/cli/io.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { branchFixture, PASSWORD, runCli } from './helpers.ts';

let agent: FakeAgent;
let env: Record<string, string>;

beforeAll(async () => {
  agent = await new FakeAgent().start();
  agent.seed(branchFixture());
  agent.seed(branchFixture({ name: 'ro-1', connection: undefined }));
  env = { VELA_AGENT_URL: agent.url, VELA_TOKEN: 't', PATH: '/usr/bin' };
});
afterAll(() => agent.stop());

describe('psql', () => {
  it('passes the URI without password as argv, the password via PGPASSWORD, and extra args after --', async () => {
    const calls: { command: string; args: string[]; env: Record<string, string | undefined> }[] = [];
    const spawn: SpawnFn = async (command, args, childEnv) => {
      calls.push({ command, args, env: childEnv });
      return 3;
    };
    const r = await runCli(['psql', 'pr-1', '--', '-c', 'select 1'], { env, spawn });
    expect(r.code).toBe(3); // psql's own exit code
    expect(calls).toHaveLength(1);
    expect(calls[0].command).toBe('psql');
    expect(calls[0].args).toEqual(['postgresql://app@127.0.0.1:55001/app', '-c', 'select 1']);
    expect(calls[0].args.join(' ')).not.toContain(PASSWORD);
    expect(calls[0].env.PGPASSWORD).toBe(PASSWORD);
    expect(calls[0].env.PATH).toBe('/usr/bin');
  });

  it('honours VELA_PSQL', async () => {
    let used = '';
    const spawn: SpawnFn = async (command) => {
      used = command;
      return 0;
    };
    await runCli(['psql', 'pr-1'], { env: { ...env, VELA_PSQL: '/opt/pg/bin/psql' }, spawn });
    expect(used).toBe('/opt/pg/bin/psql');
  });

  it('says clearly when psql is not installed', async () => {
    const r = await runCli(['psql', 'pr-1'], { env: { ...env, VELA_PSQL: '/nonexistent/psql-binary' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'vela-branch: /nonexistent/psql-binary is not installed or not on PATH; install the PostgreSQL client (e.g. apt-get install postgresql-client), set VELA_PSQL, or use $(vela-branch url pr-1)\n',
    );
    expect(r.stderr).not.toContain(PASSWORD);
  });

  it('explains a missing connection instead of spawning psql', async () => {
    let spawned = false;
    const r = await runCli(['psql', 'ro-1'], { env, spawn: async () => ((spawned = true), 0) });
    expect(r.code).toBe(1);
    expect(spawned).toBe(false);
    expect(r.stderr).toBe('vela-branch: the agent gave no credentials for ro-1: the token in use may not write this branch\n');
  });

  it('keeps psql-style flags before -- from being taken as its own', async () => {
    const r = await runCli(['psql', 'pr-1', '-c', 'select 1'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("vela-branch: unknown option -c for psql (put psql's own arguments after --) (see vela-branch psql --help)\n");
  });
});
