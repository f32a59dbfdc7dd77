import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { startHarness, closeAndCheck } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import type { Harness } from './helpers/harness.ts';
import { runPrLifecycle } from './helpers/lifecycle.ts';
import { event, newDeliveryId, pullRequestPayload } from './helpers/payloads.ts';
import { sql } from '../helpers/engine-harness.ts';

const selectOne = async (uri: string) => (await sql<{ one: number }>(uri, 'select 1 as one'))[0].one;
import { startWebhookServer } from './helpers/webhook-server.ts';

// The app against a real `vela-branch agent` on a loop-mounted btrfs pool with real postgres.
describeWithPool('the app with a real agent', () => {
  let agent: TestAgent;
  let h: Harness | undefined;
  beforeAll(async () => {
    agent = await startTestAgent({ tag: 'app' });
  });
  afterAll(async () => {
    await agent?.destroy();
  });
  afterEach(async () => {
    await closeAndCheck(h);
  });

  const prNames = async () => (await h!.client.list()).branches.map((b) => b.name).filter((n) => n.startsWith('pr-'));

  it('signed webhooks over HTTP: opened (delivered twice) → one branch, one comment; closed → branch gone', async () => {
    lockDownNetwork();
    h = await startHarness({ agentUrl: agent.url, agentToken: agent.token, load: false });
    const web = await startWebhookServer(h);
    try {
      h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
      const id = newDeliveryId();
      expect((await web.deliver('pull_request', pullRequestPayload('opened'), id)).status).toBe(200);
      expect((await web.deliver('pull_request', pullRequestPayload('opened'), id)).status).toBe(200);
      await h.tasks.idle();
      expect(await prNames()).toEqual(['pr-2-hello-world-4d96']);
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: ready');

      expect((await web.deliver('pull_request', pullRequestPayload('closed'))).status).toBe(200);
      await h.tasks.idle();
      expect(await prNames()).toEqual([]);
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: destroyed');
    } finally {
      await web.close();
    }
  });

  it('synchronize starts a stopped pr-N: postgres accepts connections again with the same credentials', async () => {
    lockDownNetwork();
    h = await startHarness({ agentUrl: agent.url, agentToken: agent.token });
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    const before = (await h.client.get('pr-2-hello-world-4d96')).connection!;
    expect(await selectOne(before.uri)).toBe(1);

    expect((await h.client.stop('pr-2-hello-world-4d96')).state).toBe('stopped');
    await expect(selectOne(before.uri)).rejects.toThrow();
    await h.probot.receive(event('pull_request', pullRequestPayload('synchronize', { sha: 'f'.repeat(40) })));
    await h.tasks.idle();

    const after = await h.client.get('pr-2-hello-world-4d96');
    expect(after.state).toBe('ready');
    expect(after.labels.sha).toBe('f'.repeat(40));
    expect(after.connection!.uri).toBe(before.uri);
    expect(await selectOne(before.uri)).toBe(1);
    expect(h.github.comments).toHaveLength(1);
    expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: ready');
    await h.client.delete('pr-2-hello-world-4d96');
  });

  it("a branch of the PR's name labelled with another repository: not reused, relabelled or deleted", async () => {
    lockDownNetwork();
    h = await startHarness({ agentUrl: agent.url, agentToken: agent.token });
    const name = 'pr-2-hello-world-4d96';
    await h.client.create({ name, labels: { repo: 'someone/else', pr: '2' } });
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    expect(h.github.comments[0].body).toContain(`Database branch \`${name}\`: not usable`);
    await h.probot.receive(event('pull_request', pullRequestPayload('closed')));
    await h.tasks.idle();
    expect((await h.client.get(name)).labels).toEqual({ repo: 'someone/else', pr: '2' });
    expect(h.github.comments[0].body).toContain('belongs to repository someone/else, not Codertocat/Hello-World: not deleting it');
    await h.client.delete(name);
  });

  it('scripted lifecycle: open ×2, push to a stopped branch, /vela reset, /vela extend 2d, close: no branch left, one sticky comment', async () => {
    lockDownNetwork();
    h = await startHarness({ agentUrl: agent.url, agentToken: agent.token });
    await runPrLifecycle(h, () => Date.now());
  });
});
