import { AgentError, type AgentClient } from '../client.ts';
import { checkRepo } from './ownership.ts';

export interface DeleteOutcome {
  /** Branches the agent destroyed; empty when there was nothing to delete. */
  deleted: string[];
  /** The branch did not exist: deleting is idempotent, so this is not an error. */
  absent: boolean;
}

/**
 * Deletes the branch; one that is already gone counts as done. With `repo`, a branch whose `repo`
 * label names another repository is left alone (BranchMismatchError).
 */
export async function deleteIfPresent(client: AgentClient, name: string, opts: { repo?: string } = {}): Promise<DeleteOutcome> {
  try {
    if (opts.repo) checkRepo(await client.get(name), opts.repo, 'deleting');
    const res = await client.delete(name);
    return { deleted: res.deleted, absent: false };
  } catch (err) {
    if (err instanceof AgentError && err.status === 404) return { deleted: [], absent: true };
    throw err;
  }
}
