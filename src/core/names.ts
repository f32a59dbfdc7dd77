// Branch names double as volume names, DNS labels and URL path segments, so keep them boring.
export const BRANCH_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const BRANCH_NAME_RULE = 'a branch name is 1-63 characters of lowercase letters, digits and "-", starting with a letter or digit';

export function isBranchName(value: unknown): value is string {
  return typeof value === 'string' && BRANCH_NAME_RE.test(value);
}

export function branchNameProblem(value: unknown): string | null {
  if (isBranchName(value)) return null;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
  return `invalid branch name ${shown}: ${BRANCH_NAME_RULE}`;
}

/**
 * Volumes the agent uses while it rebuilds a branch beside the old one (`.next-main`) or moves
 * the old one aside (`.old-main`). The leading dot keeps them out of every branch name.
 */
const STAGING_RE = /^\.(next|old)-[a-z0-9][a-z0-9-]{0,62}$/;
export function isStagingName(value: string): boolean {
  return STAGING_RE.test(value) || isQuarantineName(value);
}

/** A volume no record claimed, moved aside (never deleted on a guess): `.quarantine-<name>-<UTC stamp>`. */
const QUARANTINE_RE = /^\.quarantine-([a-z0-9][a-z0-9-]{0,62})-(\d{8}t\d{6})$/;
export function isQuarantineName(value: string): boolean {
  return QUARANTINE_RE.test(value);
}
export function quarantineName(name: string, at: Date): string {
  return `.quarantine-${name}-${at.toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase()}`;
}
/** The branch name a quarantined volume had. */
export function quarantinedFrom(value: string): string | null {
  return QUARANTINE_RE.exec(value)?.[1] ?? null;
}
export const nextName = (name: string) => `.next-${name}`;
export const oldName = (name: string) => `.old-${name}`;

/** The root branch: created by initdb (or an import) and protected. */
export const ROOT_BRANCH = 'main';
