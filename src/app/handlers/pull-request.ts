import type { Context } from 'probot';
import type { AppDeps } from '../deps.ts';
import { loadAppConfig } from '../config.ts';
import type { AppConfig } from '../config.ts';
import { renderStickyComment } from '../comment.ts';
import type { StickyView } from '../comment.ts';
import { deleteIfPresent } from '../../core/workflows/delete.ts';
import { checkRepo } from '../../core/workflows/ownership.ts';
import { agentFailureView, branchNameFor, ensurePullBranch, isNotFound, isUnreachable, withoutCredentials } from '../branch-ops.ts';
import type { PullFacts } from '../branch-ops.ts';
import { pullKey } from '../sticky.ts';
import type { PullRef } from '../sticky.ts';
import { startWork } from './start-work.ts';
import { reportCheckRun } from '../check-run.ts';
import type { WorkOutcome } from './start-work.ts';

export const ENSURE_ACTIONS = [
  'pull_request.opened',
  'pull_request.reopened',
  'pull_request.synchronize',
  'pull_request.ready_for_review',
  'pull_request.labeled',
] as const;

type PullRequestContext = Context<'pull_request'>;

function facts(context: PullRequestContext): { ref: PullRef; pull: PullFacts } {
  const { repository, pull_request: pr } = context.payload;
  return {
    ref: { owner: repository.owner.login, repo: repository.name, number: pr.number },
    pull: { number: pr.number, repoFullName: repository.full_name, author: pr.user?.login, headSha: pr.head?.sha },
  };
}

/** A PR whose head lives in another repository (a deleted fork has no head repository at all). */
function isForkPull(pr: { head: { repo: { full_name: string } | null }; base: { repo: { full_name: string } } }): boolean {
  return pr.head.repo === null || pr.head.repo.full_name.toLowerCase() !== pr.base.repo.full_name.toLowerCase();
}

/** Why this PR gets no branch from this event, or null when it should. */
export function skipReason(context: PullRequestContext, config: AppConfig): string | null {
  const { action, pull_request: pr } = context.payload;
  if (!config.auto) return 'auto is off';
  if (pr.draft && !config.drafts) return 'draft PR';
  if (isForkPull(pr) && !config.forks) return 'PR from a fork (set `forks: true` in .github/vela.yml to branch those)';
  const prLabels = (pr.labels ?? []).map((l) => l.name);
  if (config.labels.length > 0 && !prLabels.some((l) => config.labels.includes(l))) return 'no matching label';
  if (action === 'labeled') {
    // Only a newly added label that unlocks branching is news; other labels change nothing.
    const added = 'label' in context.payload ? context.payload.label?.name : undefined;
    if (config.labels.length === 0 || !added || !config.labels.includes(added)) return 'label not configured';
  }
  return null;
}

/** opened / reopened / synchronize / ready_for_review (and a configured label): ensure the PR's branch and its comment. */
export function onPullRequestActive(deps: AppDeps) {
  return async (context: PullRequestContext): Promise<void> => {
    const { ref, pull } = facts(context);
    startWork(deps, context, pullKey(ref), async (): Promise<WorkOutcome> => {
      const botLogin = await deps.botLogin();
      const render = (view: StickyView) => renderStickyComment(view, { now: deps.clock(), sha: pull.headSha });
      const sticky = (view: StickyView) => deps.sticky.upsert(context.octokit, ref, botLogin, render(view));

      const loaded = await loadAppConfig(context);
      if (!loaded.ok) {
        await sticky({ kind: 'config-error', problem: loaded.problem });
        return 'done';
      }
      const config = loaded.config;
      const skip = skipReason(context, config);
      if (skip) {
        context.log.debug(`vela: no branch for PR #${pull.number}: ${skip}`);
        return 'done';
      }
      const name = branchNameFor(pull);
      if ((await deps.sticky.find(context.octokit, ref, botLogin)) === null) {
        // Show progress at once: creating a branch can take longer than a webhook may.
        await deps.sticky.post(context.octokit, ref, render({ kind: 'creating', name, parent: config.parent }));
      }
      const check = async (outcome: Parameters<typeof reportCheckRun>[3]) => {
        if (config.checkRun && pull.headSha) await reportCheckRun(context.octokit, ref, pull.headSha, outcome);
      };
      try {
        const { branch, ready, problem } = await ensurePullBranch({
          agent: deps.agent,
          pull,
          parent: config.parent,
          ttl: config.ttl,
          wait: deps.wait,
        });
        await sticky({ kind: 'branch', branch });
        await check(ready ? { branch } : { name, error: problem ?? `branch ${name} is ${branch.state}` });
        return 'done';
      } catch (err) {
        await sticky(agentFailureView(name, err));
        await check({ name, error: (err as Error).message });
        return isUnreachable(err) ? 'retry' : 'done';
      }
    });
  };
}

/** closed (merged or not): destroy the PR's branch unless keepOnClose, and say so in the comment. */
export function onPullRequestClosed(deps: AppDeps) {
  return async (context: PullRequestContext): Promise<void> => {
    const { ref, pull } = facts(context);
    startWork(deps, context, pullKey(ref), async (): Promise<WorkOutcome> => {
      const botLogin = await deps.botLogin();
      const render = (view: StickyView) => renderStickyComment(view, { now: deps.clock(), sha: pull.headSha });
      const name = branchNameFor(pull);

      const loaded = await loadAppConfig(context);
      if (!loaded.ok) {
        // Keep the branch (its TTL still applies) rather than guess what a broken config meant.
        await deps.sticky.upsert(context.octokit, ref, botLogin, render({ kind: 'config-error', problem: loaded.problem }));
        return 'done';
      }
      let view: StickyView;
      let changed = false;
      try {
        if (loaded.config.keepOnClose) {
          const kept = withoutCredentials(await deps.agent.get(name));
          checkRepo(kept, pull.repoFullName, 'showing');
          view = { kind: 'kept', branch: kept };
        } else {
          const how = context.payload.pull_request.merged ? 'merged' : 'closed';
          changed = !(await deleteIfPresent(deps.agent, name, { repo: pull.repoFullName })).absent;
          view = { kind: 'destroyed', name, reason: `The PR was ${how}, so its branch was deleted.` };
        }
      } catch (err) {
        if (isNotFound(err)) view = { kind: 'missing', name };
        else view = agentFailureView(name, err);
      }
      // Only speak up where we spoke before, or where we just removed something.
      const body = render(view);
      if (changed) await deps.sticky.upsert(context.octokit, ref, botLogin, body);
      else await deps.sticky.updateIfPresent(context.octokit, ref, botLogin, body);
      return view.kind === 'agent-down' ? 'retry' : 'done';
    });
  };
}
