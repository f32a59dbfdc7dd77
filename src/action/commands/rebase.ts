import { AgentError, type AgentClient } from '../../core/client.ts';
import type { Branch, ConnectionInfo } from '../../core/types.ts';
import { untilReady, type WaitOptions } from './ready.ts';

export interface RebaseParams {
  name: string;
  wait?: WaitOptions;
}

export interface RebaseResult {
  branch: Branch;
  connection: ConnectionInfo;
}

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

function describeConflict(c: unknown): string {
  if (typeof c === 'string') return c.slice(0, 200);
  if (c && typeof c === 'object') {
    const o = c as Record<string, unknown>;
    const text = o.message ?? o.detail ?? o.statement;
    if (typeof text === 'string') return text.slice(0, 200);
  }
  return JSON.stringify(c).slice(0, 200);
}

export async function rebaseBranch(params: RebaseParams, client: AgentClient): Promise<RebaseResult> {
  try {
    const branch = await client.rebase(params.name);
    return await untilReady(client, branch, params.wait);
  } catch (err) {
    if (err instanceof AgentError && err.status === 409 && Array.isArray(err.body?.error.conflicts)) {
      throw new RebaseConflictError(params.name, err.body.error.conflicts);
    }
    throw err;
  }
}
