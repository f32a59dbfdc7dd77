/**
 * The names and labels the action, the app and the CLI give the branches they make for GitHub,
 * so each surface finds the branch another one created.
 */

/** The branch of pull request `number`: shared by every run of the PR, the app and `/vela` commands. */
export function prBranchName(number: number): string {
  return `pr-${number}`;
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
