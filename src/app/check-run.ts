import type { ProbotOctokit } from 'probot';
import type { Branch } from '../core/api/index.ts';
import type { PullRef } from './sticky.ts';

export const CHECK_NAME = 'vela/branch';

/**
 * The branch's state as a completed check run on the head commit (optional, `checkRun: true`):
 * success when it is ready, failure (with the agent's message) when it could not be made.
 */
export async function reportCheckRun(
  octokit: ProbotOctokit,
  ref: PullRef,
  headSha: string,
  outcome: { branch: Branch } | { name: string; error: string },
): Promise<void> {
  const ok = 'branch' in outcome;
  const name = ok ? outcome.branch.name : outcome.name;
  await octokit.rest.checks.create({
    owner: ref.owner,
    repo: ref.repo,
    name: CHECK_NAME,
    head_sha: headSha,
    status: 'completed',
    conclusion: ok ? 'success' : 'failure',
    output: ok
      ? {
          title: `Branch ${name} is ${outcome.branch.state}`,
          summary: `Parent \`${outcome.branch.parent ?? '-'}\`, port ${outcome.branch.port}, database \`${outcome.branch.database}\`. Credentials: the vela/branch action or \`vela-branch url ${name}\`.`,
        }
      : { title: `Branch ${name} is not available`, summary: outcome.error.slice(0, 1000) },
  });
}
