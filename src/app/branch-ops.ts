import { AgentError } from '../core/client.ts';
import type { AgentClient } from '../core/client.ts';
import type { Branch } from '../core/api/index.ts';
import { branchLabels, prBranchName } from '../core/workflows/branch-names.ts';
import { ensureBranch } from '../core/workflows/ensure.ts';
import { BranchMismatchError } from '../core/workflows/ownership.ts';
import { BranchNotReadyError, type WaitOptions } from '../core/workflows/ready.ts';
import type { StickyView } from './comment.ts';

export interface PullFacts {
  number: number;
  repoFullName: string;
  author?: string;
  headSha?: string;
}

export const branchNameFor = (pull: Pick<PullFacts, 'number' | 'repoFullName'>) => prBranchName(pull.repoFullName, pull.number);

/** The shared label vocabulary; the PR's author is the actor that caused the branch. */
export function labelsFor(pull: PullFacts): Record<string, string> {
  return branchLabels({ repo: pull.repoFullName, pr: pull.number, sha: pull.headSha, actor: pull.author });
}

/** An agent failure (or a branch that is not this PR's) turned into what the sticky comment shows; anything else is not ours to explain. */
export function agentFailureView(name: string, err: unknown): StickyView {
  if (err instanceof AgentError) {
    return err.status === 0 ? { kind: 'agent-down', name } : { kind: 'error', name, message: err.message };
  }
  if (err instanceof BranchMismatchError) return { kind: 'mismatch', name, message: err.message };
  throw err;
}

export const isUnreachable = (err: unknown) => err instanceof AgentError && err.status === 0;
export const isNotFound = (err: unknown) => err instanceof AgentError && err.status === 404;

/** Never keep credentials around longer than needed: everything past the agent call sees a branch without them. */
export function withoutCredentials(branch: Branch): Branch {
  const { connection: _dropped, ...rest } = branch;
  return rest;
}

export interface PullBranchParams {
  agent: AgentClient;
  pull: PullFacts;
  parent: string;
  ttl: string;
  wait: WaitOptions;
}

/**
 * The shared ensure (get or create, labels current, a stopped branch started, bounded wait).
 * A branch that did not get ready is still shown as it is (creating, failed) with `ready: false`.
 */
export async function ensurePullBranch(params: PullBranchParams): Promise<{ branch: Branch; ready: boolean; problem?: string }> {
  try {
    const { branch } = await ensureBranch(params.agent, {
      name: branchNameFor(params.pull),
      parent: params.parent,
      ttl: params.ttl,
      labels: labelsFor(params.pull),
      wait: params.wait,
    });
    return { branch: withoutCredentials(branch), ready: true };
  } catch (err) {
    if (!(err instanceof BranchNotReadyError)) throw err;
    return { branch: withoutCredentials(err.branch), ready: false, problem: err.message };
  }
}
