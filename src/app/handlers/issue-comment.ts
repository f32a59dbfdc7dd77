import type { Context } from 'probot';
import type { AppDeps } from '../deps.ts';
import { parseComment } from '../commands.ts';
import { loadAppConfig } from '../config.ts';
import { renderStickyComment } from '../comment.ts';
import { isBotAccount } from '../identity.ts';
import { runSlashCommand } from '../slash-command.ts';
import type { SlashCommandResult } from '../slash-command.ts';
import { helpText, renderReply } from '../replies.ts';
import { pullKey } from '../sticky.ts';
import type { PullRef } from '../sticky.ts';
import { startWork } from './start-work.ts';
import type { WorkOutcome } from './start-work.ts';

type IssueCommentContext = Context<'issue_comment.created'>;

/** Roles (`role_name` of the collaborator permission API) allowed to run commands. */
export const ALLOWED_ROLES = new Set(['write', 'maintain', 'admin']);

// GitHub's reaction contents: 👀 on receipt, then 🚀 or 😕 for the outcome.
const RECEIVED = 'eyes';
const SUCCEEDED = 'rocket';
const FAILED = 'confused';
type Reaction = typeof RECEIVED | typeof SUCCEEDED | typeof FAILED;

/** `/vela …` on the first line of a new PR comment by a person with write access. Edits never trigger (not subscribed). */
export function onIssueComment(deps: AppDeps) {
  return async (context: IssueCommentContext): Promise<void> => {
    const { issue, comment, sender, repository } = context.payload;
    if (!issue.pull_request) return;
    // Bots, this app above all, never drive commands: its own replies quote the command they answer.
    if (isBotAccount(sender) || isBotAccount(comment.user)) return;
    const parsed = parseComment(comment.body);
    if (parsed.kind === 'none') return;

    const ref: PullRef = { owner: repository.owner.login, repo: repository.name, number: issue.number };
    const actor = sender.login;
    startWork(deps, context, pullKey(ref), async (): Promise<WorkOutcome> => {
      const octokit = context.octokit;
      const react = (content: Reaction) =>
        octokit.rest.reactions.createForIssueComment({ owner: ref.owner, repo: ref.repo, comment_id: comment.id, content });
      const reply = async (result: { ok: boolean; text: string }) => {
        await octokit.rest.issues.createComment({
          owner: ref.owner,
          repo: ref.repo,
          issue_number: ref.number,
          body: renderReply({ line: parsed.line, actor, ...result }),
        });
        await react(result.ok ? SUCCEEDED : FAILED);
      };

      const loaded = await loadAppConfig(context);
      if (loaded.ok && !loaded.config.commands) return 'done';
      await react(RECEIVED);
      if (!loaded.ok) {
        await reply({ ok: false, text: `\`.github/vela.yml\` is invalid: ${loaded.problem}` });
        return 'done';
      }
      if (parsed.kind === 'invalid') {
        await reply({ ok: false, text: helpText(parsed.reason) });
        return 'done';
      }
      if (parsed.command.name !== 'help' && !(await mayRunCommands(context, ref, actor))) {
        await reply({ ok: false, text: 'Only collaborators with write, maintain or admin access can run `/vela` commands.' });
        return 'done';
      }

      const result: SlashCommandResult = await runSlashCommand({
        command: parsed.command,
        agent: deps.agent,
        config: loaded.config,
        pull: { number: ref.number, repoFullName: repository.full_name, author: issue.user?.login },
        actor,
        now: deps.clock(),
      });
      await reply(result);
      if (result.sticky) {
        const botLogin = await deps.botLogin();
        const body = renderStickyComment(result.sticky, { now: deps.clock() });
        await deps.sticky.upsert(octokit, ref, botLogin, body);
      }
      return result.unreachable ? 'retry' : 'done';
    });
  };
}

async function mayRunCommands(context: IssueCommentContext, ref: PullRef, username: string): Promise<boolean> {
  try {
    const { data } = await context.octokit.rest.repos.getCollaboratorPermissionLevel({ owner: ref.owner, repo: ref.repo, username });
    return ALLOWED_ROLES.has(data.role_name);
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false; // not a collaborator
    throw err;
  }
}
