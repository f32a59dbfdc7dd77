import { AgentError, type AgentClient } from '../../core/client.ts';
import { createRequest, type BranchParams, type BranchResult } from './ensure.ts';
import { untilReady } from './ready.ts';

/** Strict create: an existing branch is an error (use `ensure` to reuse one). */
export async function createBranch(params: BranchParams, client: AgentClient): Promise<BranchResult> {
  try {
    const res = await client.create(createRequest(params, 'fail'));
    const ready = await untilReady(client, res.branch, params.wait);
    return { ...ready, created: true };
  } catch (err) {
    if (err instanceof AgentError && err.status === 409) {
      throw new Error(`branch ${params.name} already exists; use \`command: ensure\` to reuse it, or pick another \`branch\``, {
        cause: err,
      });
    }
    throw err;
  }
}
