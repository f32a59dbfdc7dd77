import type { AgentClient } from '../../core/client.ts';
import type { Branch, ConnectionInfo } from '../../core/types.ts';

export interface WaitOptions {
  sleep?: (ms: number) => Promise<void>;
  timeoutMs?: number;
  pollMs?: number;
}

export interface ReadyBranch {
  branch: Branch;
  connection: ConnectionInfo;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Turns whatever the agent handed back into a ready branch with credentials: waits out `creating`,
 * starts a `stopped` branch, and fails clearly on `failed` or a token that may not see credentials.
 */
export async function untilReady(client: AgentClient, initial: Branch, opts: WaitOptions = {}): Promise<ReadyBranch> {
  const sleep = opts.sleep ?? defaultSleep;
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  let branch = initial;
  for (;;) {
    if (branch.state === 'ready') {
      if (!branch.connection) {
        throw new Error(`the agent returned no credentials for branch ${branch.name}: the token must be allowed to write it`);
      }
      return { branch, connection: branch.connection };
    }
    if (branch.state === 'failed') {
      throw new Error(`branch ${branch.name} failed on the agent: ${branch.error ?? 'no reason given'}`);
    }
    if (branch.state === 'deleting') {
      throw new Error(`branch ${branch.name} is being deleted; run again once it is gone`);
    }
    if (Date.now() > deadline) {
      throw new Error(`branch ${branch.name} is still ${branch.state} after ${Math.round((opts.timeoutMs ?? 300_000) / 1000)}s`);
    }
    if (branch.state === 'stopped') {
      branch = await client.start(branch.name);
      continue;
    }
    await sleep(opts.pollMs ?? 1000);
    branch = await client.get(branch.name);
  }
}
