import { describe, expect, it } from 'vitest';
import { AgentClient, AgentError } from '../../src/core/client.ts';

const branch = {
  name: 'pr-1',
  parent: 'main',
  state: 'ready',
  host: '127.0.0.1',
  port: 5433,
  database: 'postgres',
  user: 'vela_owner',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  protected: false,
  labels: { pr: '1' },
  storage: { driver: 'btrfs', exclusiveBytes: 16384 },
  timings: { createMs: 120 },
};

interface Seen {
  method: string;
  url: string;
  body: string | undefined;
}

/** A client whose fetch answers with `status` and `body`, recording what was asked. */
function clientAnswering(status: number, body: unknown, contentType = 'application/json') {
  const seen: Seen[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    seen.push({ method: init.method!, url, body: init.body as string | undefined });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { 'content-type': contentType } });
  }) as unknown as typeof globalThis.fetch;
  return { client: new AgentClient({ url: 'http://agent.test/', token: 't', fetch }), seen };
}

describe('AgentClient checks answers against the API contract', () => {
  it('a matching answer comes back typed; paths and queries come from the route table', async () => {
    const { client, seen } = clientAnswering(200, branch);
    expect((await client.get('pr-1')).port).toBe(5433);
    await client.reset('pr-1', { force: true }).catch(() => undefined);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET http://agent.test/v1/branches/pr-1',
      'POST http://agent.test/v1/branches/pr-1/reset?force=1',
    ]);
    expect(seen[1].body).toBe('{}');
  });

  it('rejects a body that does not match, naming the field and the operation', async () => {
    const { client } = clientAnswering(200, { ...branch, port: '5433', state: 'sleeping' });
    const err = await client.get('pr-1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err).toMatchObject({ code: 'invalid_response' });
    expect((err as Error).message).toMatch(/getBranch \(GET \/v1\/branches\/pr-1\) does not match the API contract/);
    expect((err as Error).message).toMatch(/port: .*expected number/);
    expect((err as Error).message).toMatch(/state: /);
  });

  it('rejects a create answer without created, and a status the route does not answer', async () => {
    const missing = await clientAnswering(201, { branch })
      .client.create({ name: 'pr-1' })
      .catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/createBranch .*created: .*expected boolean/);
    const odd = await clientAnswering(202, { deleted: ['pr-1'] })
      .client.delete('pr-1')
      .catch((e: unknown) => e);
    expect(odd).toMatchObject({ code: 'unexpected_response', status: 202 });
    expect((odd as Error).message).toMatch(/deleteBranch \(DELETE \/v1\/branches\/pr-1\) with 202, expected 200/);
  });

  it('init, progress and refresh are methods of their own, checked like the rest', async () => {
    const init = clientAnswering(201, { branch: { ...branch, name: 'main', parent: null } });
    expect((await init.client.init({ mode: 'logical', sourceUrl: 'postgresql://u:p@h/db' })).branch.name).toBe('main');
    expect(init.seen[0]).toMatchObject({ method: 'POST', url: 'http://agent.test/v1/init' });
    expect(JSON.parse(init.seen[0].body!)).toEqual({ mode: 'logical', sourceUrl: 'postgresql://u:p@h/db' });

    const progress = clientAnswering(200, { running: true, phase: 'restore' });
    await expect(progress.client.progress()).rejects.toThrow(/getBuildProgress .* tablesDone: /);

    const refresh = clientAnswering(200, { ...branch, name: 'main', parent: null });
    expect((await refresh.client.refresh()).name).toBe('main');
    expect(refresh.seen[0]).toMatchObject({ method: 'POST', url: 'http://agent.test/v1/branches/main/refresh' });
  });

  it('error answers stay AgentErrors with the agent’s code and message; metrics come back as text', async () => {
    const denied = clientAnswering(403, { error: { code: 'forbidden', message: 'this token may not change branch pr-1' } });
    await expect(denied.client.stop('pr-1')).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    const metrics = clientAnswering(200, 'vela_branches{state="ready"} 1\n', 'text/plain');
    expect(await metrics.client.metrics()).toMatch(/vela_branches/);
  });
});
