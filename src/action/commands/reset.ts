import type { AgentClient } from '../../core/client.ts';
import type { Branch } from '../../core/api/index.ts';
import { waitUntilReady, type WaitOptions } from '../../core/workflows/ready.ts';

/** Reset keeps name, port and credentials, so the connection string stays the same. */
export async function resetBranch(client: AgentClient, params: { name: string; wait?: WaitOptions }): Promise<Branch> {
  return waitUntilReady(client, await client.reset(params.name), params.wait);
}
