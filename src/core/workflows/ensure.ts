import { AgentError, type AgentClient } from '../client.ts';
import type { Branch, CreateBranchBody } from '../api/index.ts';
import { checkParent, checkRepo } from './ownership.ts';
import { waitUntilReady, type WaitOptions } from './ready.ts';

export interface BranchRequest {
  name: string;
  parent?: string | null;
  ttl?: string | null;
  labels: Record<string, string>;
}

export interface EnsureParams extends BranchRequest {
  wait?: WaitOptions;
}

export interface EnsureResult {
  /** Ready, with credentials when the token may write it. */
  branch: Branch;
  created: boolean;
}

/** The agent's create body; `ifExists` is what tells ensure and a strict create apart. */
export function createBody(request: BranchRequest, ifExists: 'return' | 'fail'): CreateBranchBody {
  return {
    name: request.name,
    ...(request.parent ? { parent: request.parent } : {}),
    ...(request.ttl ? { ttl: request.ttl } : {}),
    labels: request.labels,
    ifExists,
  };
}

/** Labels of an existing branch that differ from the requested ones, merged over the rest; null when current. */
function staleLabels(branch: Branch, wanted: Record<string, string>): Record<string, string> | null {
  const current = branch.labels ?? {};
  const changed = Object.entries(wanted).some(([key, value]) => current[key] !== value);
  return changed ? { ...current, ...wanted } : null;
}

/**
 * Get or create, then make it usable: `ifExists: "return"` makes re-runs, parallel jobs and
 * redelivered webhooks of one PR share one branch. An existing branch must carry this repository's
 * `repo` label (if any) and have the requested parent (default main); it gets its labels brought up
 * to date (the head sha) and is started if stopped; the wait for `ready` is bounded.
 */
export async function ensureBranch(client: AgentClient, params: EnsureParams): Promise<EnsureResult> {
  let branch: Branch;
  let created: boolean;
  try {
    const res = await client.create(createBody(params, 'return'));
    branch = res.branch;
    created = res.created;
  } catch (err) {
    // A 409 can still slip through a race on older agents: read what is there.
    if (!(err instanceof AgentError) || err.status !== 409) throw err;
    branch = await client.get(params.name);
    created = false;
  }
  if (!created) {
    // Reusing another repository's branch, or one cloned from other data (main instead of main-masked), is never right.
    checkRepo(branch, params.labels.repo, 'reusing');
    checkParent(branch, params.parent);
  }
  const relabel = created ? null : staleLabels(branch, params.labels);
  if (relabel) branch = await client.patch(params.name, { labels: relabel });
  return { branch: await waitUntilReady(client, branch, params.wait), created };
}
