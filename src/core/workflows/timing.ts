import type { Branch } from '../api/index.ts';

export interface BranchTiming {
  /** Time since the branch was created; null when the agent's timestamp does not parse. */
  ageMs: number | null;
  /** Time until the TTL runs out (never negative); null when the branch has no TTL. */
  ttlLeftMs: number | null;
  expired: boolean;
}

/** Age and TTL of a branch at `now`, for every surface's renderer. */
export function branchTiming(branch: Pick<Branch, 'createdAt' | 'expiresAt'>, now: number | Date): BranchTiming {
  const at = typeof now === 'number' ? now : now.getTime();
  const created = Date.parse(branch.createdAt);
  const expires = branch.expiresAt ? Date.parse(branch.expiresAt) : Number.NaN;
  const hasTtl = !Number.isNaN(expires);
  return {
    ageMs: Number.isNaN(created) ? null : Math.max(0, at - created),
    ttlLeftMs: hasTtl ? Math.max(0, expires - at) : null,
    expired: hasTtl && expires <= at,
  };
}
