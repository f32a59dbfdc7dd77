import type { AgentClient } from '../../core/client.ts';
import type { Branch } from '../../core/api/index.ts';
import { waitUntilReady, type WaitOptions } from '../../core/workflows/ready.ts';
import { describeRebaseConflict, rebaseConflictsOf, type RebaseConflict } from '../../core/workflows/rebase-conflicts.ts';

/** A rebase that stopped: the job fails with every conflict spelled out (the branch is unchanged). */
export class RebaseConflictError extends Error {
  readonly conflicts: RebaseConflict[];
  constructor(branch: string, conflicts: RebaseConflict[], agentMessage: string) {
    const shown = conflicts.slice(0, 5).flatMap((c) => {
      const { headline, details } = describeRebaseConflict(c);
      return [`  ✗ ${headline}`, ...details.map((d) => `      ${d}`)];
    });
    const more = conflicts.length > 5 ? [`  … and ${conflicts.length - 5} more`] : [];
    super([`rebase of ${branch} stopped; the branch is unchanged (${agentMessage})`, ...shown, ...more].join('\n'));
    this.name = 'RebaseConflictError';
    this.conflicts = conflicts;
  }
}

/** Rebase keeps name, port and credentials too: the connection string stays the same. */
export async function rebaseBranch(client: AgentClient, params: { name: string; wait?: WaitOptions }): Promise<Branch> {
  try {
    return await waitUntilReady(client, await client.rebase(params.name), params.wait);
  } catch (err) {
    const conflicts = rebaseConflictsOf(err);
    if (conflicts.length) throw new RebaseConflictError(params.name, conflicts, (err as Error).message);
    throw err;
  }
}
