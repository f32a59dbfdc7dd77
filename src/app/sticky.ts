import type { ProbotOctokit } from 'probot';
import { STICKY_MARKER } from './comment.ts';

export interface PullRef {
  owner: string;
  repo: string;
  number: number;
}

export const pullKey = (pr: PullRef) => `${pr.owner}/${pr.repo}#${pr.number}`.toLowerCase();

/**
 * The app's one comment per PR, found by its hidden marker and the app's own login (so a human
 * quoting the marker can't hijack it) and edited in place. Ids are remembered per PR so a comment
 * just created is found even before GitHub's list shows it.
 */
export class StickyComments {
  private readonly ids = new Map<string, number>();

  async find(octokit: ProbotOctokit, pr: PullRef, botLogin: string): Promise<number | null> {
    const known = this.ids.get(pullKey(pr));
    if (known !== undefined) return known;
    const comments = await octokit.paginate(octokit.rest.issues.listComments, {
      owner: pr.owner,
      repo: pr.repo,
      issue_number: pr.number,
      per_page: 100,
    });
    const mine = comments.find((c) => c.user?.login === botLogin && (c.body ?? '').includes(STICKY_MARKER));
    if (!mine) return null;
    this.ids.set(pullKey(pr), mine.id);
    return mine.id;
  }

  /** Edits the sticky comment, or creates it when there is none. Callers serialize per PR. */
  async upsert(octokit: ProbotOctokit, pr: PullRef, botLogin: string, body: string): Promise<number> {
    const id = await this.find(octokit, pr, botLogin);
    if (id !== null) {
      try {
        await octokit.rest.issues.updateComment({ owner: pr.owner, repo: pr.repo, comment_id: id, body });
        return id;
      } catch (err) {
        // Someone deleted it: forget it and post a fresh one.
        if ((err as { status?: number }).status !== 404) throw err;
        this.ids.delete(pullKey(pr));
      }
    }
    return this.post(octokit, pr, body);
  }

  /** Posts a new sticky comment; only for callers that just checked there is none. */
  async post(octokit: ProbotOctokit, pr: PullRef, body: string): Promise<number> {
    const { data } = await octokit.rest.issues.createComment({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, body });
    this.ids.set(pullKey(pr), data.id);
    return data.id;
  }

  /** Edits the sticky comment only if one exists (e.g. after close, when there may be nothing to say). */
  async updateIfPresent(octokit: ProbotOctokit, pr: PullRef, botLogin: string, body: string): Promise<boolean> {
    if ((await this.find(octokit, pr, botLogin)) === null) return false;
    await this.upsert(octokit, pr, botLogin, body);
    return true;
  }
}
