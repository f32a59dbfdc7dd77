import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOW, startHarness, closeAndCheck } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import type { Harness } from './helpers/harness.ts';
import { commentPayload, event, PR_NUMBER, pullRequestPayload } from './helpers/payloads.ts';
import { BOT_LOGIN } from './helpers/fake-github.ts';
import { FAKE_PASSWORD_PREFIX } from '../helpers/fake-agent.ts';

const COMMENT_ID = 492700400; // the comment id of the fixture
const USER = 'Codertocat';

describe('/vela slash-commands', () => {
  let h: Harness;
  beforeEach(async () => {
    lockDownNetwork();
    h = await startHarness();
  });
  afterEach(async () => {
    await closeAndCheck(h);
  });

  /** Opens the PR so pr-2-hello-world-4d96 and its sticky comment exist. */
  async function openPr(config: string | null = null) {
    h.github.mockInstallationToken().mockApp().mockConfig(config).mockComments();
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
  }

  it('a user with write access runs /vela reset: 👀, the reset, a reply, 🚀, the sticky comment refreshed', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'write');
    await h.probot.receive(event('issue_comment', commentPayload('/vela reset\nplease, the seed data changed')));
    await h.tasks.idle();

    expect(h.agent.countCalls('POST /v1/branches/pr-2-hello-world-4d96/reset')).toBe(1);
    expect(h.github.permissionChecks).toEqual([USER]);
    expect(h.github.reactions).toEqual([
      { commentId: COMMENT_ID, content: 'eyes' },
      { commentId: COMMENT_ID, content: 'rocket' },
    ]);
    const replies = h.github.replies(PR_NUMBER);
    expect(replies).toHaveLength(1);
    expect(replies[0].body).toBe(
      '> /vela reset\n\n@Codertocat ✅ Reset `pr-2-hello-world-4d96` to the current state of `main` in 1s. Connection strings stay valid.',
    );
    expect(h.github.stickyComments(PR_NUMBER)).toHaveLength(1);
  });

  it('/vela reset and /vela destroy leave a branch of this name labelled with another repository alone', async () => {
    h.agent.seed('pr-2-hello-world-4d96', { labels: { repo: 'someone/else' } });
    h.github
      .mockInstallationToken()
      .mockConfig(null)
      .mockComments({ list: false, edit: false })
      .mockReactions()
      .mockPermission(USER, 'write');
    await h.probot.receive(event('issue_comment', commentPayload('/vela reset')));
    await h.probot.receive(event('issue_comment', commentPayload('/vela destroy')));
    await h.tasks.idle();

    const replies = h.github.replies(PR_NUMBER).map((reply) => reply.body);
    expect(replies).toEqual([
      '> /vela reset\n\n@Codertocat ❌ branch pr-2-hello-world-4d96 belongs to repository someone/else, not Codertocat/Hello-World: not resetting it; pick another branch name',
      '> /vela destroy\n\n@Codertocat ❌ branch pr-2-hello-world-4d96 belongs to repository someone/else, not Codertocat/Hello-World: not deleting it; pick another branch name',
    ]);
    expect(h.agent.countCalls('POST /v1/branches/pr-2-hello-world-4d96/reset')).toBe(0);
    expect(h.agent.countCalls('DELETE')).toBe(0);
    expect(h.agent.branches.get('pr-2-hello-world-4d96')!.labels).toEqual({ repo: 'someone/else' });
  });

  it('a maintainer runs /vela extend 2d: the TTL is patched', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'maintain');
    await h.probot.receive(event('issue_comment', commentPayload('/vela extend 2d')));
    await h.tasks.idle();

    const branch = h.agent.branches.get('pr-2-hello-world-4d96')!;
    expect(Date.parse(branch.expiresAt!) - NOW.getTime()).toBe(2 * 86_400_000);
    expect(h.github.replies(PR_NUMBER)[0].body).toContain('expires in 2d');
    expect(h.github.stickyComments(PR_NUMBER)[0].body).toContain('| TTL | expires in 2d');
  });

  it('a read-only user is refused with a reply, and nothing reaches the agent', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'read');
    const callsBefore = h.agent.calls.length;
    await h.probot.receive(event('issue_comment', commentPayload('/vela destroy')));
    await h.tasks.idle();

    expect(h.agent.calls.length).toBe(callsBefore);
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.github.replies(PR_NUMBER)[0].body).toContain('❌ Only collaborators with write, maintain or admin access');
    expect(h.github.reactions.map((r) => r.content)).toEqual(['eyes', 'confused']);
  });

  it('a triage user is refused too (role_name, not the legacy permission field)', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'triage');
    await h.probot.receive(event('issue_comment', commentPayload('/vela reset')));
    await h.tasks.idle();
    expect(h.agent.countCalls('POST /v1/branches/pr-2-hello-world-4d96/reset')).toBe(0);
    expect(h.github.replies(PR_NUMBER)).toHaveLength(1);
  });

  it('bots are ignored: no reaction, no reply, no GitHub call at all', async () => {
    // No GitHub mocks: any call would fail on nock.disableNetConnect and land in h.errors.
    await h.probot.receive(event('issue_comment', commentPayload('/vela destroy', { login: 'dependabot[bot]', type: 'Bot' })));
    await h.probot.receive(event('issue_comment', commentPayload('/vela destroy', { login: 'renovate[bot]' })));
    await h.tasks.idle();
    expect(h.agent.calls).toEqual([]);
    expect(h.github.comments).toEqual([]);
  });

  it("the app's own reply quoting /vela reset does nothing, nor does its own comment starting with the command", async () => {
    const ownReply = '> /vela reset\n\n@Codertocat ✅ Reset `pr-2-hello-world-4d96` to the current state of `main`.';
    await h.probot.receive(event('issue_comment', commentPayload(ownReply, { login: BOT_LOGIN, type: 'Bot' })));
    await h.probot.receive(event('issue_comment', commentPayload('/vela reset', { login: BOT_LOGIN, type: 'Bot' })));
    await h.tasks.idle();
    expect(h.agent.calls).toEqual([]);
    expect(h.github.comments).toEqual([]);
  });

  it('edited comments, comments on plain issues and comments not starting with /vela are ignored', async () => {
    const edited = commentPayload('/vela destroy');
    edited.action = 'edited';
    edited.changes = { body: { from: 'hello' } };
    await h.probot.receive(event('issue_comment', edited));
    const onIssue = commentPayload('/vela destroy');
    delete onIssue.issue.pull_request;
    await h.probot.receive(event('issue_comment', onIssue));
    await h.probot.receive(event('issue_comment', commentPayload('LGTM\n/vela destroy')));
    await h.probot.receive(event('issue_comment', commentPayload('/velaciraptor destroy')));
    await h.tasks.idle();
    expect(h.agent.calls).toEqual([]);
  });

  it('an unknown command gets the help text, without a permission check', async () => {
    h.github.mockInstallationToken().mockConfig(null).mockReactions().mockComments({ list: false, edit: false });
    await h.probot.receive(event('issue_comment', commentPayload('/vela frobnicate')));
    await h.tasks.idle();
    const reply = h.github.replies(PR_NUMBER)[0].body;
    expect(reply).toContain('unknown command `frobnicate`');
    expect(reply).toContain('`/vela extend DURATION`');
    expect(h.github.permissionChecks).toEqual([]);
    expect(h.agent.calls).toEqual([]);
  });

  it('/vela status without a branch says how to make one', async () => {
    h.github.mockInstallationToken().mockApp().mockConfig(null).mockReactions().mockComments({ edit: false }).mockPermission(USER, 'admin');
    await h.probot.receive(event('issue_comment', commentPayload('/vela status')));
    await h.tasks.idle();
    expect(h.github.replies(PR_NUMBER)[0].body).toContain('❌ This PR has no branch `pr-2-hello-world-4d96`. Comment `/vela create`');
    expect(h.github.stickyComments(PR_NUMBER)[0].body).toContain('`pr-2-hello-world-4d96`: none');
  });

  it('/vela create --from P creates the branch from that parent (even with auto off)', async () => {
    h.github
      .mockInstallationToken()
      .mockApp()
      .mockConfig('auto: false\n')
      .mockReactions()
      .mockComments({ edit: false })
      .mockPermission(USER, 'write');
    await h.probot.receive(event('pull_request', pullRequestPayload('opened')));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual([]);

    await h.probot.receive(event('issue_comment', commentPayload('/vela create --from main')));
    await h.tasks.idle();
    expect(h.agent.prBranches()).toEqual(['pr-2-hello-world-4d96']);
    expect(h.agent.branches.get('pr-2-hello-world-4d96')!.parent).toBe('main');
    expect(h.github.replies(PR_NUMBER)[0].body).toContain('✅ Created `pr-2-hello-world-4d96` from `main`.');
    const sticky = h.github.stickyComments(PR_NUMBER);
    expect(sticky).toHaveLength(1);
    expect(sticky[0].body).not.toContain(FAKE_PASSWORD_PREFIX);
  });

  it('/vela rebase that stops on a conflict reports it', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'write');
    await h.probot.receive(event('issue_comment', commentPayload('/vela rebase')));
    await h.tasks.idle();
    const reply = h.github.replies(PR_NUMBER)[0].body;
    expect(reply).toContain('❌ The vela agent refused: rebase of pr-2-hello-world-4d96 stopped at change log transaction 3: row_changed');
    expect(reply).toContain('- **row_changed on public.users: the parent changed this row since the fork**');
    expect(reply).toContain("  - `branch: UPDATE public.users SET email = 'new@example.com' WHERE id = '7'`");
    expect(reply).toContain('  - `key: id=7`');
    expect(reply).toContain('  - `parent now: id=7, email=changed@example.com`');
    expect(reply).toContain('The branch was left exactly as it was.');
    expect(h.github.reactions.at(-1)!.content).toBe('confused');
  });

  it('/vela diff replies with the schema diff', async () => {
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'write');
    await h.probot.receive(event('issue_comment', commentPayload('/vela diff')));
    await h.tasks.idle();
    const reply = h.github.replies(PR_NUMBER)[0].body;
    expect(reply).toContain(
      '🗄️ Database diff of `pr-2-hello-world-4d96`: 1 schema change against main; rows changed in 2 tables (3 inserted, 1 updated, 2 deleted)',
    );
    expect(reply).toContain('- column `public.users.nickname` added');
    expect(reply).toContain('| `public.users` | 3 | 1 | 0 |');
    expect(reply).toContain('```sql\nALTER TABLE "public"."users" ADD COLUMN "nickname" text;\n```');
    expect(reply).not.toContain('<details>'); // asked for: shown open
    // The sticky comment keeps it too, collapsed under the branch table.
    const sticky = h.github.stickyComments(PR_NUMBER);
    expect(sticky).toHaveLength(1);
    expect(sticky[0].body).toContain(
      '<details><summary>🗄️ Database diff of <code>pr-2-hello-world-4d96</code>: 1 schema change against main;',
    );
    expect(sticky[0].body).toContain('ADD COLUMN "nickname" text;\n```\n\n</details>');
    expect(sticky[0].body).not.toContain(FAKE_PASSWORD_PREFIX);
  });

  it('/vela diff of a branch with nothing changed says so in one line', async () => {
    h.agent.answer('GET /v1/branches/pr-2-hello-world-4d96/diff', () => ({
      status: 200,
      body: { parent: 'main', sql: '', summary: [], objects: {}, data: [] },
    }));
    await openPr();
    h.github.mockReactions().mockPermission(USER, 'write');
    await h.probot.receive(event('issue_comment', commentPayload('/vela diff')));
    await h.tasks.idle();
    expect(h.github.replies(PR_NUMBER)[0].body).toContain(
      '🗄️ Database diff of `pr-2-hello-world-4d96`: no schema changes against main; no rows changed since the fork\n',
    );
  });

  it('commands: false in the config turns commands off (no reaction, no reply)', async () => {
    h.github.mockInstallationToken().mockConfig('commands: false\n');
    await h.probot.receive(event('issue_comment', commentPayload('/vela destroy')));
    await h.tasks.idle();
    expect(h.github.reactions).toEqual([]);
    expect(h.github.comments).toEqual([]);
  });
});
