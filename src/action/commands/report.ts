import type { AgentClient } from '../../core/client.ts';
import type { GitHubClient } from '../github/octokit.ts';
import { commentOnPullRequest, type StickyCommentResult } from '../github/sticky-comment.ts';
import { collectResults } from '../report/collect.ts';
import type { TestCaseResult, Totals } from '../report/junit.ts';
import type { Branch } from '../../core/api/index.ts';
import { connectionSecrets } from '../secrets.ts';
import { scrubCredentials } from '../../core/scrub-credentials.ts';
import { renderReport, reportMarker } from '../report/render.ts';
import { diffSection } from './diff.ts';

export interface ReportParams {
  pattern: string;
  branch: string;
  maxFailures: number;
  /** Distinguishes this job's comment from other jobs' (GITHUB_JOB unless `report-key` is set). */
  key: string;
  run: { url: string; id: string; attempt: string; job: string };
  /** The PR to comment on; null on push, schedule and other non-PR events. */
  pr: { owner: string; repo: string; number: number } | null;
  comment: boolean;
  /** Fork PRs get a read-only token: don't even try to comment. */
  readOnlyToken: boolean;
  now: Date;
  cwd?: string;
  /** Secret values this step knows (the exported connection string and password), stripped from every excerpt. */
  secrets: string[];
  /** Append the branch's schema and data diff as a collapsed section (`diff: true`); `rows` keys sampled per table. */
  diff?: { rows: number } | null;
}

/** Most of the comment the diff section may take; the test failures keep the rest. */
const DIFF_SECTION_CHARS = 24_000;

export interface ReportDeps {
  /** Optional: only used to show the branch's age. */
  agent: AgentClient | null;
  github: GitHubClient | null;
}

export interface ReportResult {
  markdown: string;
  totals: Totals;
  files: string[];
  problems: string[];
  comment: StickyCommentResult | null;
  /** Why no PR comment was written, when none was. */
  commentSkipped: string | null;
  /** Non-fatal trouble worth a warning (unreadable files, agent lookup, comment permission). */
  warnings: string[];
}

/** The branch as the agent shows it: its age for the report, its credentials to strip from it. */
async function lookUpBranch(agent: AgentClient | null, name: string, warnings: string[]): Promise<Branch | null> {
  if (!agent) return null;
  try {
    return await agent.get(name);
  } catch (err) {
    warnings.push(`could not look up branch ${name} on the agent: ${(err as Error).message}`);
    return null;
  }
}

/** Every text that came from the test run, with credentials removed (test output often prints DATABASE_URL). */
function withoutCredentials(failures: TestCaseResult[], secrets: string[]): TestCaseResult[] {
  const strip = (text: string) => scrubCredentials(text, secrets);
  return failures.map((failure) => ({
    ...failure,
    suite: strip(failure.suite),
    classname: strip(failure.classname),
    name: strip(failure.name),
    message: strip(failure.message),
    details: strip(failure.details),
  }));
}

/** The collapsed diff section, or '' with a warning when the agent cannot give it (the report goes on). */
async function diffFor(agent: AgentClient | null, params: ReportParams, secrets: string[], warnings: string[]): Promise<string> {
  if (!agent) {
    warnings.push('`diff: true` needs `agent-url` and a token (or `oidc-audience`): no diff in the report');
    return '';
  }
  try {
    const diff = await agent.diff(params.branch, { rows: params.diff?.rows ?? 0 });
    return diffSection(diff, { branch: params.branch, usedChars: 0, maxChars: DIFF_SECTION_CHARS, secrets });
  } catch (err) {
    warnings.push(`could not get the diff of ${params.branch} from the agent: ${scrubCredentials((err as Error).message, secrets)}`);
    return '';
  }
}

/** JUnit files → markdown → sticky PR comment (when there is a PR). The job summary is written by the caller. */
export async function reportResults(params: ReportParams, deps: ReportDeps): Promise<ReportResult> {
  const warnings: string[] = [];
  const collected = await collectResults(params.pattern, params.cwd);
  const branch = await lookUpBranch(deps.agent, params.branch, warnings);
  const secrets = [...params.secrets, ...(branch?.connection ? connectionSecrets(branch.connection) : [])];
  const problems = collected.problems.map((problem) => scrubCredentials(problem, secrets));
  for (const problem of problems) warnings.push(`not a JUnit report, skipped: ${problem}`);
  const marker = reportMarker(params.key);
  const section = params.diff ? await diffFor(deps.agent, params, secrets, warnings) : '';
  const report = renderReport({
    marker,
    totals: collected.totals,
    failures: withoutCredentials(collected.failures, secrets),
    fileCount: collected.files.length - collected.problems.length,
    pattern: params.pattern,
    problems,
    branch: { name: params.branch, createdAt: branch?.createdAt ?? null },
    run: params.run,
    maxFailures: params.maxFailures,
    now: params.now,
    reserveChars: section.length,
  });
  const markdown = section ? `${report}\n${section}` : report;

  const posted = await commentOnPullRequest(deps.github, params, { marker, text: markdown }, 'report');
  if (posted.warning) warnings.push(posted.warning);
  return {
    markdown,
    totals: collected.totals,
    files: collected.files,
    problems,
    comment: posted.comment,
    commentSkipped: posted.skipped,
    warnings,
  };
}
