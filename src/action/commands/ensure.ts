import { AgentError, type AgentClient } from '../../core/client.ts';
import type { Branch, ConnectionInfo } from '../../core/types.ts';
import type { CreateBranchBody } from '../../core/schemas.ts';
import { untilReady, type WaitOptions } from './ready.ts';

export interface BranchParams {
  name: string;
  parent: string | null;
  ttl: string | null;
  labels: Record<string, string>;
  wait?: WaitOptions;
}

export interface BranchResult {
  branch: Branch;
  created: boolean;
  connection: ConnectionInfo;
}

/** The agent's create body for these params; `ifExists` is what tells ensure and create apart. */
export function createRequest(params: BranchParams, ifExists: 'return' | 'fail'): CreateBranchBody {
  return {
    name: params.name,
    ...(params.parent ? { parent: params.parent } : {}),
    ...(params.ttl ? { ttl: params.ttl } : {}),
    labels: params.labels,
    ifExists,
  };
}

/**
 * Get or create: the agent's `ifExists: "return"` makes re-runs and parallel jobs of one PR share
 * one branch. A 409 can still slip through a race on older agents, so fall back to reading it.
 */
export async function ensureBranch(params: BranchParams, client: AgentClient): Promise<BranchResult> {
  let branch: Branch;
  let created: boolean;
  try {
    const res = await client.create(createRequest(params, 'return'));
    branch = res.branch;
    created = res.created;
  } catch (err) {
    if (!(err instanceof AgentError) || err.status !== 409) throw err;
    branch = await client.get(params.name);
    created = false;
  }
  const ready = await untilReady(client, branch, params.wait);
  return { ...ready, created };
}
