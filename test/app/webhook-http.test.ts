import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, closeAndCheck } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import type { Harness } from './helpers/harness.ts';
import { newDeliveryId, pullRequestPayload } from './helpers/payloads.ts';
import { sign, startWebhookServer } from './helpers/webhook-server.ts';
import type { WebhookServer } from './helpers/webhook-server.ts';

describe('the HTTP webhook endpoint', () => {
  let h: Harness;
  let web: WebhookServer;

  beforeEach(async () => {
    lockDownNetwork();
    h = await startHarness({ load: false });
    web = await startWebhookServer(h);
  });
  afterEach(async () => {
    await web.close();
    await closeAndCheck(h);
  });

  it('a signed delivery is answered before the (slow) branch is ready; the branch and one comment follow', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    const release = h.agent.holdCreates();
    const res = await web.deliver('pull_request', pullRequestPayload('opened'));

    expect(res.status).toBe(200);
    expect(h.agent.prBranches()).toEqual([]); // answered while the clone is still running
    release();
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.stickyComments(2)).toHaveLength(1);
    expect(h.github.stickyComments(2)[0].body).toContain('`pr-2-hello-world-4d96`: ready');
  });

  it('the same delivery posted twice (same X-GitHub-Delivery): one branch, one comment', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    const id = newDeliveryId();
    const first = await web.deliver('pull_request', pullRequestPayload('opened'), id);
    const second = await web.deliver('pull_request', pullRequestPayload('opened'), id);
    await h.tasks.idle();
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(h.agent.countCalls('POST /v1/branches')).toBe(1);
    expect(h.github.comments).toHaveLength(1);
  });

  it('rejects a delivery without a signature, and does nothing', async () => {
    const res = await web.post('pull_request', JSON.stringify(pullRequestPayload('opened')));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('x-hub-signature-256');
    await h.tasks.idle();
    expect(h.agent.calls).toEqual([]);
  });

  it('rejects a delivery signed with the wrong secret, or whose body was altered after signing', async () => {
    const body = JSON.stringify(pullRequestPayload('opened'));
    const tamperedBody = body.replace('"number":2', '"number":3');
    expect(tamperedBody).not.toBe(body);
    const wrongSecret = await web.post('pull_request', body, { 'x-hub-signature-256': sign(body, 'not-the-secret') });
    const tampered = await web.post('pull_request', tamperedBody, { 'x-hub-signature-256': sign(body) });
    expect(wrongSecret.status).toBe(400);
    expect(tampered.status).toBe(400);
    expect(await wrongSecret.text()).toContain('signature does not match');
    await h.tasks.idle();
    expect(h.agent.calls).toEqual([]);
  });
});
