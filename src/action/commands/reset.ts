import type { AgentClient } from '../../core/client.ts';
import type { Branch, ConnectionInfo } from '../../core/types.ts';
import { untilReady, type WaitOptions } from './ready.ts';

export interface ResetParams {
  name: string;
  wait?: WaitOptions;
}

export interface ResetResult {
  branch: Branch;
  /** Reset keeps name, port and credentials, so the connection string stays the same. */
  connection: ConnectionInfo;
}

export async function resetBranch(params: ResetParams, client: AgentClient): Promise<ResetResult> {
  const branch = await client.reset(params.name);
  return untilReady(client, branch, params.wait);
}
