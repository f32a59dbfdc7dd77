import type { AgentClient } from '../../core/client.ts';
import type { DiffResult } from '../../core/api/index.ts';
import { GITHUB_COMMENT_LIMIT, renderDiffMarkdown } from '../../core/workflows/diff-markdown.ts';
import type { GitHubClient } from '../github/octokit.ts';
import { commentOnPullRequest, type StickyCommentResult } from '../github/sticky-comment.ts';

export interface DiffParams {
  branch: string;
  /** Keys of changed rows to sample per table (0: counts only). */
  rows: number;
  /** Distinguishes this job's comment from other jobs' (as for `report`). */
  key: string;
  pr: { owner: string; repo: string; number: number } | null;
  comment: boolean;
  readOnlyToken: boolean;
  /** Secret values this step knows, blanked from the comment. */
  secrets: string[];
}

export interface DiffOutcome {
  diff: DiffResult;
  markdown: string;
  comment: StickyCommentResult | null;
  commentSkipped: string | null;
  warnings: string[];
}

export function diffMarker(key: string): string {
  return `<!-- vela-branch:diff:${key} -->`;
}

/** The diff as a collapsed section of a comment that has `usedChars` already; never past GitHub's limit nor `maxChars`. */
export function diffSection(diff: DiffResult, params: { branch: string; usedChars: number; secrets: string[]; maxChars?: number }): string {
  return renderDiffMarkdown(diff, {
    branch: params.branch,
    collapsed: true,
    maxChars: Math.min(params.maxChars ?? Infinity, GITHUB_COMMENT_LIMIT - 1_000 - params.usedChars),
    secrets: params.secrets,
  });
}

/** `command: diff`: the branch's schema and data diff as a collapsed section of its own sticky PR comment. */
export async function postDiff(params: DiffParams, deps: { agent: AgentClient; github: GitHubClient | null }): Promise<DiffOutcome> {
  const warnings: string[] = [];
  const diff = await deps.agent.diff(params.branch, { rows: params.rows });
  const marker = diffMarker(params.key);
  const head = `${marker}\n### 🗄️ Database branch \`${params.branch}\`\n\n`;
  const markdown = head + diffSection(diff, { branch: params.branch, usedChars: head.length, secrets: params.secrets });

  const posted = await commentOnPullRequest(deps.github, params, { marker, text: markdown }, 'diff');
  if (posted.warning) warnings.push(posted.warning);
  return { diff, markdown, comment: posted.comment, commentSkipped: posted.skipped, warnings };
}
