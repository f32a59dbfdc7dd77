import { AgentError, type AgentClient } from '../../core/client.ts';
import type { Branch } from '../../core/api/index.ts';
import { waitUntilReady, type WaitOptions } from '../../core/workflows/ready.ts';

export class RebaseConflictError extends Error {
  readonly conflicts: unknown[];
  constructor(branch: string, conflicts: unknown[]) {
    const shown = conflicts.slice(0, 5).map(describeConflict);
    const more = conflicts.length > shown.length ? ` (and ${conflicts.length - shown.length} more)` : '';
    super(`rebase of ${branch} stopped at ${conflicts.length} conflict(s); the branch is unchanged: ${shown.join('; ')}${more}`);
    this.name = 'RebaseConflictError';
    this.conflicts = conflicts;
  }
}

function describeConflict(conflict: unknown): string {
  if (typeof conflict === 'string') return conflict.slice(0, 200);
  if (conflict && typeof conflict === 'object') {
    const fields = conflict as Record<string, unknown>;
    const text = fields.message ?? fields.detail ?? fields.statement;
    if (typeof text === 'string') return text.slice(0, 200);
  }
  return JSON.stringify(conflict).slice(0, 200);
}

export async function rebaseBranch(client: AgentClient, params: { name: string; wait?: WaitOptions }): Promise<Branch> {
  try {
    return await waitUntilReady(client, await client.rebase(params.name), params.wait);
  } catch (err) {
    if (err instanceof AgentError && err.status === 409 && Array.isArray(err.body?.error.conflicts)) {
      throw new RebaseConflictError(params.name, err.body.error.conflicts);
    }
    throw err;
  }
}
