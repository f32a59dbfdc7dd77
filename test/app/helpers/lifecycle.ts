import { expect } from 'vitest';
import type { Harness } from './harness.ts';
import { NOW } from './harness.ts';
import { commentPayload, event, newDeliveryId, PR_NUMBER, pullRequestPayload } from './payloads.ts';

const USER = 'Codertocat';
const PUSHED_SHA = 'd'.repeat(40);

/**
 * A PR's life as GitHub would deliver it: opened (delivered twice), a push to a stopped branch, `/vela reset`,
 * `/vela extend 2d`, closed. Agent-agnostic: it inspects the agent only through its API, so it
 * runs against the in-memory fake and against a real `vela-branch agent`.
 */
export async function runPrLifecycle(h: Harness, agentNow: () => number): Promise<void> {
  const name = 'pr-2-hello-world-4d96';
  const prNames = async () => (await h.client.list()).branches.map((b) => b.name).filter((n) => n.startsWith('pr-'));
  h.github.mockInstallationToken().mockApp().mockConfig(null).mockComments().mockReactions().mockPermission(USER, 'write');

  // opened, and GitHub delivers it twice
  const opened = event('pull_request', pullRequestPayload('opened'), newDeliveryId());
  await h.probot.receive(opened);
  await h.probot.receive(opened);
  await h.tasks.idle();
  expect(await prNames()).toEqual([name]);
  expect(h.github.stickyComments(PR_NUMBER)).toHaveLength(1);
  const password = (await h.client.get(name)).connection?.password;
  expect(password, 'the test token may read credentials').toBeTruthy();

  // a push while the branch is suspended (idle suspend, or by hand): the app starts it again
  expect((await h.client.stop(name)).state).toBe('stopped');
  await h.probot.receive(event('pull_request', pullRequestPayload('synchronize', { sha: PUSHED_SHA })));
  await h.tasks.idle();
  const pushed = await h.client.get(name);
  expect(pushed.state).toBe('ready');
  expect(pushed.labels.sha).toBe(PUSHED_SHA);
  expect(h.github.stickyComments(PR_NUMBER)[0].body).toContain('Database branch `pr-2-hello-world-4d96`: ready');
  expect(h.github.stickyComments(PR_NUMBER)[0].body).toContain(`for ${PUSHED_SHA.slice(0, 7)}`);

  // /vela reset
  await h.probot.receive(event('issue_comment', commentPayload('/vela reset')));
  await h.tasks.idle();
  expect(h.github.replies(PR_NUMBER).at(-1)!.body).toMatch(
    /^> \/vela reset\n\n@Codertocat ✅ Reset `pr-2-hello-world-4d96` to the current state of `main`/,
  );

  // /vela extend 2d
  await h.probot.receive(event('issue_comment', commentPayload('/vela extend 2d')));
  await h.tasks.idle();
  expect(h.github.replies(PR_NUMBER).at(-1)!.body).toMatch(/^> \/vela extend 2d\n\n@Codertocat ✅ Extended `pr-2-hello-world-4d96`/);
  const expiresIn = Date.parse((await h.client.get(name)).expiresAt!) - agentNow();
  expect(Math.abs(expiresIn - 2 * 86_400_000)).toBeLessThan(5 * 60_000);

  // closed
  await h.probot.receive(event('pull_request', pullRequestPayload('closed')));
  await h.tasks.idle();
  expect(await prNames()).toEqual([]);

  const sticky = h.github.stickyComments(PR_NUMBER);
  expect(sticky).toHaveLength(1);
  expect(sticky[0].body).toBe(
    [
      '<!-- vela-branch:app -->',
      '### 🗑️ Database branch `pr-2-hello-world-4d96`: destroyed',
      '',
      'The PR was closed, so its branch was deleted.',
      '',
      `<sub>Updated for ec26c3e at ${NOW.toISOString()} · comment \`/vela help\` for commands</sub>`,
    ].join('\n'),
  );
  expect(h.github.replies(PR_NUMBER)).toHaveLength(2);
  expect(h.github.comments).toHaveLength(3);
  expect(h.github.reactions.map((r) => r.content)).toEqual(['eyes', 'rocket', 'eyes', 'rocket']);
  for (const c of h.github.comments) expect(c.body).not.toContain(password!);
}
