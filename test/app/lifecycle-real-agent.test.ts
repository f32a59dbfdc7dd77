import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { lockDownNetwork, startHarness, closeAndCheck } from './helpers/harness.ts';
import type { Harness } from './helpers/harness.ts';
import { runPrLifecycle } from './helpers/lifecycle.ts';
import { newDeliveryId, pullRequestPayload } from './helpers/payloads.ts';
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
      expect(await prNames()).toEqual(['pr-2']);
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('Database branch `pr-2`: ready');

      expect((await web.deliver('pull_request', pullRequestPayload('closed'))).status).toBe(200);
      await h.tasks.idle();
      expect(await prNames()).toEqual([]);
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('Database branch `pr-2`: destroyed');
    } finally {
      await web.close();
    }
  });

  it('scripted lifecycle: open ×2, push, /vela reset, /vela extend 2d, close: no branch left, one sticky comment', async () => {
    lockDownNetwork();
    h = await startHarness({ agentUrl: agent.url, agentToken: agent.token });
    await runPrLifecycle(h, () => Date.now());
  });
});
