import type { GitHubClient } from './octokit.ts';

export interface StickyCommentParams {
  owner: string;
  repo: string;
  issueNumber: number;
  marker: string;
  body: string;
}

export interface StickyCommentResult {
  action: 'created' | 'updated';
  id: number;
  url: string;
}

/** The login the token comments as. Installation tokens (GITHUB_TOKEN) may not call GET /user. */
export async function commenterLogin(octokit: GitHubClient): Promise<string> {
  try {
    const { data } = await octokit.rest.users.getAuthenticated();
    return data.login;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 401 || status === 403) return 'github-actions[bot]';
    throw err;
  }
}

/**
 * One comment per marker: update the comment that carries the marker AND was written by us (so a
 * user quoting the marker can't hijack it), else create it. Re-runs never stack new comments.
 */
export async function upsertStickyComment(octokit: GitHubClient, params: StickyCommentParams): Promise<StickyCommentResult> {
  const me = await commenterLogin(octokit);
  const comments = await octokit.paginate(octokit.rest.issues.listComments, {
    owner: params.owner,
    repo: params.repo,
    issue_number: params.issueNumber,
    per_page: 100,
  });
  const mine = comments.filter((c) => c.user?.login === me && (c.body ?? '').includes(params.marker));
  const existing = mine.at(-1);
  if (existing) {
    const { data } = await octokit.rest.issues.updateComment({
      owner: params.owner,
      repo: params.repo,
      comment_id: existing.id,
      body: params.body,
    });
    return { action: 'updated', id: data.id, url: data.html_url };
  }
  const { data } = await octokit.rest.issues.createComment({
    owner: params.owner,
    repo: params.repo,
    issue_number: params.issueNumber,
    body: params.body,
  });
  return { action: 'created', id: data.id, url: data.html_url };
}

/** Where a command's sticky comment would go, and whether it may go there. */
export interface CommentTarget {
  pr: { owner: string; repo: string; number: number } | null;
  comment: boolean;
  readOnlyToken: boolean;
}

export interface CommentOutcome {
  comment: StickyCommentResult | null;
  /** Why there is no comment; null when there is one. */
  skipped: string | null;
  warning: string | null;
}

/**
 * The sticky comment, or why there is none: no pull request, `comment: false`, a fork's read-only
 * token, no token, or a token that may not comment (403/404: Dependabot, restricted default
 * permissions; a warning names the fix, not a failed step). `what` names what the job summary
 * still holds ("report", "diff").
 */
export async function commentOnPullRequest(
  octokit: GitHubClient | null,
  target: CommentTarget,
  body: { marker: string; text: string },
  what: string,
): Promise<CommentOutcome> {
  const skip = (skipped: string): CommentOutcome => ({ comment: null, skipped, warning: null });
  if (!target.pr) return skip(`not a pull request event, so the ${what} goes to the job summary only`);
  if (!target.comment) return skip('`comment: false`');
  if (target.readOnlyToken) return skip(`pull requests from forks get a read-only token, so the ${what} goes to the job summary only`);
  if (!octokit) return skip('no `github-token`');
  const { owner, repo, number } = target.pr;
  try {
    const comment = await upsertStickyComment(octokit, { owner, repo, issueNumber: number, marker: body.marker, body: body.text });
    return { comment, skipped: null, warning: null };
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status !== 403 && status !== 404) throw err;
    return {
      comment: null,
      skipped: 'the token may not comment on this pull request',
      warning: `could not write the PR comment (HTTP ${status}): give the job \`permissions: pull-requests: write\`; the ${what} is in the job summary`,
    };
  }
}
