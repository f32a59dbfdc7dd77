import type { AgentClient } from '../client.ts';
import type { Branch, ConnectionInfo } from '../api/index.ts';

export interface WaitOptions {
  sleep?: (ms: number) => Promise<void>;
  /** Give up after this long (default 5 minutes). */
  timeoutMs?: number;
  /** Ask the agent this often while the branch is `creating` (default 1 s). */
  pollMs?: number;
}

/** The branch did not become ready: `branch` is its last known state, for renderers that show it. */
export class BranchNotReadyError extends Error {
  readonly branch: Branch;
  constructor(branch: Branch, message: string) {
    super(message);
    this.name = 'BranchNotReadyError';
    this.branch = branch;
  }
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const DEFAULT_TIMEOUT_MS = 300_000;

/**
 * Turns whatever the agent handed back into a ready branch: waits out `creating` (bounded),
 * starts a `stopped` branch, and fails clearly on `failed` or `deleting`.
 */
export async function waitUntilReady(client: AgentClient, initial: Branch, opts: WaitOptions = {}): Promise<Branch> {
  const sleep = opts.sleep ?? defaultSleep;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let branch = initial;
  for (;;) {
    switch (branch.state) {
      case 'ready':
        return branch;
      case 'failed':
        throw new BranchNotReadyError(branch, `branch ${branch.name} failed on the agent: ${branch.error ?? 'no reason given'}`);
      case 'deleting':
        throw new BranchNotReadyError(branch, `branch ${branch.name} is being deleted; run again once it is gone`);
      case 'stopped':
      case 'creating':
        break;
    }
    if (Date.now() > deadline) {
      throw new BranchNotReadyError(branch, `branch ${branch.name} is still ${branch.state} after ${Math.round(timeoutMs / 1000)}s`);
    }
    if (branch.state === 'stopped') {
      branch = await client.start(branch.name);
      continue;
    }
    await sleep(opts.pollMs ?? 1000);
    branch = await client.get(branch.name);
  }
}

/** The credentials of a ready branch, or a clear error when the token may not see them. */
export function requireConnection(branch: Branch): ConnectionInfo {
  if (!branch.connection) {
    throw new Error(`the agent returned no credentials for branch ${branch.name}: the token must be allowed to write it`);
  }
  return branch.connection;
}
