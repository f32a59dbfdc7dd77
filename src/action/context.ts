import { prBranchName, runBranchName, type BranchOrigin } from '../core/workflows/branch-names.ts';
import { readFileSync } from 'node:fs';

/** What the action needs to know about the workflow run, read from the runner's environment. */
export interface RunContext {
  eventName: string;
  owner: string;
  repo: string;
  /** PR number on pull_request / pull_request_target events, else null. */
  prNumber: number | null;
  /** The PR's head commit on PR events (GITHUB_SHA is the merge commit there), else GITHUB_SHA. */
  sha: string;
  actor: string;
  runId: string;
  runAttempt: string;
  job: string;
  serverUrl: string;
  apiUrl: string;
  runUrl: string;
  /** A PR whose head lives in another repository: secrets are withheld and the token is read-only. */
  isFork: boolean;
  isDependabot: boolean;
}

const PR_EVENTS = new Set(['pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment']);

interface PullRequestPayload {
  number?: number;
  head?: { sha?: string; repo?: { full_name?: string } | null };
  base?: { repo?: { full_name?: string } };
}

function readPayload(path: string | undefined): Record<string, unknown> {
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    // A missing or unreadable payload only costs us PR detection; the env still describes the run.
    return {};
  }
}

export function readRunContext(env: NodeJS.ProcessEnv): RunContext {
  const payload = readPayload(env.GITHUB_EVENT_PATH);
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '').split('/');
  const pr = PR_EVENTS.has(eventName) ? (payload.pull_request as PullRequestPayload | undefined) : undefined;
  const prNumber = typeof pr?.number === 'number' ? pr.number : null;
  const headRepo = pr?.head?.repo?.full_name;
  const baseRepo = pr?.base?.repo?.full_name;
  // A deleted fork has head.repo null: still a fork as far as secrets go.
  const isFork = pr !== undefined && (pr.head?.repo === null || (!!headRepo && !!baseRepo && headRepo !== baseRepo));
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '0';
  const runAttempt = env.GITHUB_RUN_ATTEMPT ?? '1';
  const actor = env.GITHUB_ACTOR ?? '';
  return {
    eventName,
    owner,
    repo,
    prNumber,
    sha: pr?.head?.sha ?? env.GITHUB_SHA ?? '',
    actor,
    runId,
    runAttempt,
    job: env.GITHUB_JOB ?? 'job',
    serverUrl,
    apiUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    runUrl: `${serverUrl}/${owner}/${repo}/actions/runs/${runId}/attempts/${runAttempt}`,
    isFork,
    isDependabot: actor === 'dependabot[bot]',
  };
}

/**
 * `pr-<n>-<repo slug>-<hash>` on PR events (the app's name for the same PR), else
 * `run-<run_id>-<attempt>`: stable across re-runs of one PR, unique per run otherwise.
 */
export function defaultBranchName(ctx: RunContext): string {
  return ctx.prNumber !== null ? prBranchName(repoFullName(ctx), ctx.prNumber) : runBranchName(ctx.runId, ctx.runAttempt);
}

export const repoFullName = (ctx: Pick<RunContext, 'owner' | 'repo'>) => `${ctx.owner}/${ctx.repo}`;

/** Where a branch made by this run comes from, for its labels. */
export function runOrigin(ctx: RunContext): BranchOrigin {
  return { repo: ctx.owner && ctx.repo ? repoFullName(ctx) : undefined, pr: ctx.prNumber, sha: ctx.sha, actor: ctx.actor };
}
