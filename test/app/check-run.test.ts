import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, checkMocksUsed } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import { event, pullRequestPayload } from './helpers/payloads.ts';
import { API, OWNER, REPO } from './helpers/fake-github.ts';
import { FAKE_PASSWORD_PREFIX } from '../helpers/fake-agent.ts';

const HEAD_SHA = pullRequestPayload('opened').pull_request.head.sha;

/** Records the check runs the app creates. */
function mockCheckRuns(): { runs: Record<string, unknown>[] } {
  const seen = { runs: [] as Record<string, unknown>[] };
  nock(API)
    .post(`/repos/${OWNER}/${REPO}/check-runs`, (body: Record<string, unknown>) => {
      seen.runs.push(body);
      return true;
    })
    .reply(201, { id: 1, name: 'vela/branch' });
  return seen;
}

describe('optional check run vela/branch (checkRun: true)', () => {
  afterEach(checkMocksUsed);

  it('reports a ready branch as a successful check on the head commit, without credentials', async () => {
    lockDownNetwork();
    const h = await startHarness();
    try {
      h.github.mockInstallationToken().mockApp().mockConfig('checkRun: true\n').mockComments();
      const seen = mockCheckRuns();
      await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
      await h.tasks.idle();
      expect(seen.runs).toHaveLength(1);
      expect(seen.runs[0]).toMatchObject({ name: 'vela/branch', head_sha: HEAD_SHA, status: 'completed', conclusion: 'success' });
      expect(JSON.stringify(seen.runs[0])).toContain('pr-2-hello-world-4d96');
      expect(JSON.stringify(seen.runs[0])).not.toContain(FAKE_PASSWORD_PREFIX);
      expect(h.errors).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('reports an unreachable agent as a failed check', async () => {
    lockDownNetwork();
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const h = await startHarness({ agentUrl: `http://127.0.0.1:${port}` });
    try {
      h.github.mockInstallationToken().mockApp().mockConfig('checkRun: true\n').mockComments();
      const seen = mockCheckRuns();
      await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
      await h.tasks.idle();
      expect(seen.runs[0]).toMatchObject({ name: 'vela/branch', conclusion: 'failure' });
    } finally {
      await h.close();
    }
  });
});
