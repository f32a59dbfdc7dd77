import { AgentError, type AgentClient } from '../../core/client.ts';
import { createBody, type EnsureParams, type EnsureResult } from '../../core/workflows/ensure.ts';
import { waitUntilReady } from '../../core/workflows/ready.ts';

/** Strict create: an existing branch is an error (use `ensure` to reuse one). */
export async function createBranch(client: AgentClient, params: EnsureParams): Promise<EnsureResult> {
  try {
    const res = await client.create(createBody(params, 'fail'));
    return { branch: await waitUntilReady(client, res.branch, params.wait), created: true };
  } catch (err) {
    if (err instanceof AgentError && err.status === 409) {
      throw new Error(`branch ${params.name} already exists; use \`command: ensure\` to reuse it, or pick another \`branch\``, {
        cause: err,
      });
    }
    throw err;
  }
}
