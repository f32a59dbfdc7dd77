import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../core/client.ts';
import type { AgentClient } from '../core/client.ts';
import type { Branch } from '../core/types.ts';
import type { StickyView } from './comment.ts';

export interface PullFacts {
  number: number;
  repoFullName: string;
  author?: string;
  headSha?: string;
}

export const branchNameFor = (prNumber: number) => `pr-${prNumber}`;

export function labelsFor(pull: PullFacts): Record<string, string> {
  const labels: Record<string, string> = { repo: pull.repoFullName, pr: String(pull.number) };
  if (pull.headSha) labels.sha = pull.headSha;
  if (pull.author) labels.author = pull.author;
  return labels;
}

/** An agent failure turned into what the sticky comment shows; anything else is not ours to explain. */
export function agentFailureView(name: string, err: unknown): StickyView {
  if (err instanceof AgentError) {
    return err.status === 0 ? { kind: 'agent-down', name } : { kind: 'error', name, message: err.message };
  }
  throw err;
}

export const isUnreachable = (err: unknown) => err instanceof AgentError && err.status === 0;
export const isNotFound = (err: unknown) => err instanceof AgentError && err.status === 404;

/** Never keep credentials around longer than needed: everything past the agent call sees a branch without them. */
export function withoutCredentials(branch: Branch): Branch {
  const { connection: _dropped, ...rest } = branch;
  return rest;
}

export interface EnsureParams {
  agent: AgentClient;
  pull: PullFacts;
  parent: string;
  ttl: string;
  readyPoll: { intervalMs: number; attempts: number };
}

/** Gets or creates `pr-<n>`; keeps its `sha` label current; waits (bounded) while the agent is still creating it. */
export async function ensureBranch(p: EnsureParams): Promise<{ branch: Branch; created: boolean }> {
  const name = branchNameFor(p.pull.number);
  const labels = labelsFor(p.pull);
  const result = await p.agent.create({ name, parent: p.parent, ttl: p.ttl, labels, ifExists: 'return' });
  let branch = withoutCredentials(result.branch);
  if (!result.created && labels.sha && branch.labels?.sha !== labels.sha) {
    branch = withoutCredentials(await p.agent.patch(name, { labels: { ...branch.labels, ...labels } }));
  }
  for (let i = 0; branch.state === 'creating' && i < p.readyPoll.attempts; i++) {
    await sleep(p.readyPoll.intervalMs);
    branch = withoutCredentials(await p.agent.get(name));
  }
  return { branch, created: result.created };
}

/** Deletes the branch; one that is already gone counts as deleted. */
export async function destroyBranch(agent: AgentClient, name: string): Promise<'deleted' | 'absent'> {
  try {
    await agent.delete(name);
    return 'deleted';
  } catch (err) {
    if (isNotFound(err)) return 'absent';
    throw err;
  }
}
