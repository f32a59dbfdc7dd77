import { ROOT_BRANCH } from '../names.ts';
import type { Branch } from '../api/index.ts';

/** The branch exists but is not the one asked for: another repository's, or cloned from another parent. */
export class BranchMismatchError extends Error {
  readonly branch: string;
  constructor(branch: string, message: string) {
    super(message);
    this.name = 'BranchMismatchError';
    this.branch = branch;
  }
}

const sameRepo = (left: string, right: string) => left.toLowerCase() === right.toLowerCase();

/**
 * Refuses a branch whose `repo` label names another repository (GitHub names are case-insensitive).
 * A branch without a `repo` label (made by hand) belongs to nobody in particular and passes.
 */
export function checkRepo(branch: Pick<Branch, 'name' | 'labels'>, repo: string | undefined, doing: string): void {
  const owner = branch.labels?.repo;
  if (!repo || !owner || sameRepo(owner, repo)) return;
  throw new BranchMismatchError(
    branch.name,
    `branch ${branch.name} belongs to repository ${owner}, not ${repo}: not ${doing} it; pick another branch name`,
  );
}

/** Refuses to hand out an existing branch cloned from another parent than the one asked for. */
export function checkParent(branch: Pick<Branch, 'name' | 'parent'>, wanted: string | null | undefined): void {
  const parent = wanted ?? ROOT_BRANCH;
  if (branch.parent === parent) return;
  throw new BranchMismatchError(
    branch.name,
    `branch ${branch.name} already exists with parent ${branch.parent ?? '(none)'}, not ${parent}: ` +
      `delete it to recreate it from ${parent}, or ask for parent ${branch.parent ?? '(none)'}`,
  );
}
