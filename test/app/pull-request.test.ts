import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, closeAndCheck, checkMocksUsed } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import type { Harness } from './helpers/harness.ts';
import { event, PR_NUMBER, pullRequestPayload } from './helpers/payloads.ts';
import { FAKE_PASSWORD_PREFIX } from '../helpers/fake-agent.ts';
import { BOT_LOGIN } from './helpers/fake-github.ts';

describe('pull_request events', () => {
  let h: Harness;
  beforeEach(async () => {
    lockDownNetwork();
    h = await startHarness();
  });
  afterEach(async () => {
    await closeAndCheck(h);
  });

  it('opened: creates pr-<n> with the configured parent, TTL and labels, and posts one comment without a password', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig('ttl: 3d\n').mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();

    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    const branch = h.agent.branches.get('pr-2-hello-world-4d96')!;
    expect(branch.parent).toBe('main');
    expect(branch.labels).toEqual({
      repo: 'Codertocat/Hello-World',
      pr: '2',
      sha: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
      actor: 'Codertocat',
    });
    expect(Date.parse(branch.expiresAt!) - Date.parse(branch.createdAt)).toBe(3 * 86_400_000);

    const sticky = h.github.stickyComments(PR_NUMBER);
    expect(sticky).toHaveLength(1);
    expect(h.github.comments).toHaveLength(1);
    expect(h.github.commentWrites).toBe(2); // "creating" first, then edited in place once ready
    const body = sticky[0].body;
    expect(body).toContain('Database branch `pr-2-hello-world-4d96`: ready');
    expect(body).toContain(`| Port | \`${branch.port}\` |`);
    expect(body).toContain('| User | `u_pr_2_hello_world_4d96` |');
    expect(body).toContain('| TTL | expires in 3d');
    expect(body).toContain('vela-branch url pr-2-hello-world-4d96');
    expect(body).not.toContain(FAKE_PASSWORD_PREFIX);
  });

  it('the same delivery twice: one branch, one comment, one create call', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    const opened = event('pull_request', pullRequestPayload('opened'));
    await h.probot.receive(opened);
    await h.probot.receive(opened);
    await h.tasks.idle();

    expect(h.agent.countCalls('POST /v1/branches')).toBe(1);
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.comments).toHaveLength(1);
  });

  it('racing events for one PR (opened + synchronize at once): one branch, one comment', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await Promise.all([
      h.probot.receive(event('pull_request', pullRequestPayload('opened'))),
      h.probot.receive(event('pull_request', pullRequestPayload('synchronize', { sha: 'b'.repeat(40) }))),
    ]);
    await h.tasks.idle();

    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.stickyComments(PR_NUMBER)).toHaveLength(1);
    expect(h.github.comments).toHaveLength(1);
    expect(h.agent.branches.get('pr-2-hello-world-4d96')!.labels.sha).toBe('b'.repeat(40));
  });

  it('synchronize on an existing branch: updates the sha label and edits the same comment', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    const firstId = h.github.comments[0].id;
    await h.probot.receive(event('pull_request', pullRequestPayload('synchronize', { sha: 'c'.repeat(40) })));
    await h.tasks.idle();

    expect(h.github.comments.map((c) => c.id)).toEqual([firstId]);
    expect(h.github.comments[0].body).toContain('for ccccccc');
    expect(h.agent.branches.get('pr-2-hello-world-4d96')!.labels.sha).toBe('c'.repeat(40));
    expect(h.agent.countCalls('PATCH /v1/branches/pr-2-hello-world-4d96')).toBe(1);
  });

  it('closed: deletes the branch and says so in the same comment', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    await h.probot.receive(event('pull_request', pullRequestPayload('closed', { merged: true })));
    await h.tasks.idle();

    expect(h.agent.prBranches()).toEqual([]);
    expect(h.github.comments).toHaveLength(1);
    expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: destroyed');
    expect(h.github.comments[0].body).toContain('The PR was merged');
  });

  it('closed with keepOnClose: keeps the branch and says so', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig('keepOnClose: true\n').mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    await h.probot.receive(event('pull_request', pullRequestPayload('closed')));
    await h.tasks.idle();

    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.comments).toHaveLength(1);
    expect(h.github.comments[0].body).toContain('kept after close');
  });

  it('draft PRs are skipped unless drafts: true', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null);
    await h.probot.receive(event('pull_request', pullRequestPayload('opened', { draft: true })));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual([]);
    expect(h.github.comments).toEqual([]);
  });

  it('fork PRs are skipped unless forks: true', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null);
    await h.probot.receive(event('pull_request', pullRequestPayload('opened', { fork: true })));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual([]);
    expect(h.agent.calls).toEqual([]);
    expect(h.github.comments).toEqual([]);
    checkMocksUsed();

    lockDownNetwork(); // the installation token is cached by now
    h.github.mockConfig('forks: true\n').mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened', { fork: true })));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: ready');
  });

  it('a branch of this name labelled with another repository is never reused, relabelled or deleted', async () => {
    h.agent.seed('pr-2-hello-world-4d96', { labels: { repo: 'someone/else', pr: '2' } });
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    const body = h.github.stickyComments(PR_NUMBER)[0].body;
    expect(body).toContain('Database branch `pr-2-hello-world-4d96`: not usable');
    expect(body).toContain('belongs to repository someone/else, not Codertocat/Hello-World');

    await h.probot.receive(event('pull_request', pullRequestPayload('closed')));
    await h.tasks.idle();
    expect(h.agent.branches.get('pr-2-hello-world-4d96')!.labels).toEqual({ repo: 'someone/else', pr: '2' });
    expect(h.agent.countCalls('PATCH')).toBe(0);
    expect(h.agent.countCalls('DELETE')).toBe(0);
    expect(h.github.stickyComments(PR_NUMBER)[0].body).toContain('not deleting it');
  });

  it('labels: only PRs with a configured label get a branch, and adding the label creates it', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig('labels: [needs-db]\n').mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual([]);

    const labeled = pullRequestPayload('labeled', { labels: ['needs-db'] });
    labeled.label = { id: 1, name: 'needs-db', color: 'ededed', default: false };
    await h.probot.receive(event('pull_request', labeled));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.comments).toHaveLength(1);
  });

  it('a bad config: one comment naming the bad key, no branch, no crash (twice → still one comment)', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig('ttl: 7days\nparnet: main\n').mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.probot.receive(event('pull_request', pullRequestPayload('synchronize')));
    await h.tasks.idle();

    expect(h.agent.prBranches()).toEqual([]);
    expect(h.github.comments).toHaveLength(1);
    expect(h.github.comments[0].body).toContain('invalid `.github/vela.yml`');
    expect(h.github.comments[0].body).toContain('`parnet`');
  });

  it('the sticky comment is found by marker AND author: a human quoting the marker is left alone', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
    const quoted = h.github.addForeignComment(PR_NUMBER, '<!-- vela-branch:app --> copied', 'Codertocat');
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();

    expect(quoted.body).toBe('<!-- vela-branch:app --> copied');
    expect(h.github.stickyComments(PR_NUMBER)).toHaveLength(1);
    expect(h.github.stickyComments(PR_NUMBER)[0].user.login).toBe(BOT_LOGIN);
  });
});

describe('agent unreachable', () => {
  afterEach(checkMocksUsed);

  it('the comment says the agent is down, and a redelivery once it is back creates the branch', async () => {
    lockDownNetwork();
    const port = await freePort();
    const h = await startHarness({ agentUrl: `http://127.0.0.1:${port}` });
    try {
      h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments();
      const opened = event('pull_request', pullRequestPayload('opened'));
      await h.probot.receive(opened);
      await h.tasks.idle();
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('agent unreachable');
      expect(h.github.comments[0].body).not.toContain(String(port));

      // The agent comes back; GitHub's redelivery of the same event (same id) now succeeds.
      await h.agent.start(port);
      await h.probot.receive(opened);
      await h.tasks.idle();
      expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
      expect(h.github.comments).toHaveLength(1);
      expect(h.github.comments[0].body).toContain('Database branch `pr-2-hello-world-4d96`: ready');
      expect(h.errors).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
