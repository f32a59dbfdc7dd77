import { createHash } from 'node:crypto';

/**
 * The names and labels the action, the app and the CLI give the branches they make for GitHub,
 * so each surface finds the branch another one created.
 */

const MAX_NAME = 63;
const HASH_CHARS = 4;

/**
 * The branch of pull request `number` of `repo` (`owner/name`): shared by every run of the PR, the
 * app and `/vela` commands, and scoped to the repository so PR 5 of two repositories never share
 * one: `pr-5-<repo name slug>-<4 hex of sha256(owner/name)>`, at most 63 characters. The hash tells
 * apart repositories whose names slug alike (acme/shop, other/shop); the `repo` label is checked too.
 */
export function prBranchName(repo: string, number: number): string {
  const fullName = repo.trim().toLowerCase();
  const hash = createHash('sha256').update(fullName).digest('hex').slice(0, HASH_CHARS);
  const head = `pr-${number}-`;
  const room = MAX_NAME - head.length - HASH_CHARS - 1;
  const slug = slugify(fullName.split('/').pop() ?? '')
    .slice(0, Math.max(0, room))
    .replace(/-+$/, '');
  return slug ? `${head}${slug}-${hash}` : `${head}${hash}`;
}

/** Lowercase letters and digits, every other run of characters one "-", none at either end. */
function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The branch of one workflow run that is not a PR: unique per run and attempt. */
export function runBranchName(runId: string, attempt: string): string {
  return `run-${runId}-${attempt}`;
}

/** What a branch made for GitHub records about where it came from. */
export interface BranchOrigin {
  /** `owner/name`. */
  repo?: string;
  pr?: number | null;
  /** Head commit the branch was last ensured for. */
  sha?: string;
  /** The GitHub login that caused it: the workflow's actor, or the PR's author for the app. */
  actor?: string;
}

const LABEL_VALUE_MAX = 256;

/** The one label vocabulary: `repo`, `pr`, `sha`, `actor` (absent facts are left out). */
export function branchLabels(origin: BranchOrigin): Record<string, string> {
  const labels: Record<string, string> = {};
  if (origin.repo) labels.repo = origin.repo.slice(0, LABEL_VALUE_MAX);
  if (origin.pr !== undefined && origin.pr !== null) labels.pr = String(origin.pr);
  if (origin.sha) labels.sha = origin.sha.slice(0, LABEL_VALUE_MAX);
  if (origin.actor) labels.actor = origin.actor.slice(0, LABEL_VALUE_MAX);
  return labels;
}
