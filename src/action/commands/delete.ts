import { AgentError, type AgentClient } from '../../core/client.ts';

export interface DeleteParams {
  name: string;
}

export interface DeleteResult {
  /** Branches the agent destroyed; empty when there was nothing to delete. */
  deleted: string[];
  /** The branch did not exist: deleting is idempotent, so this is not an error. */
  missing: boolean;
}

export async function deleteBranch(params: DeleteParams, client: AgentClient): Promise<DeleteResult> {
  try {
    const res = await client.delete(params.name);
    return { deleted: res.deleted, missing: false };
  } catch (err) {
    if (err instanceof AgentError && err.status === 404) return { deleted: [], missing: true };
    throw err;
  }
}
