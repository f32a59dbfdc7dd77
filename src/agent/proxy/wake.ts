import type { BranchRecord } from '../branches/registry.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import { VelaError } from '../../core/errors.ts';

/** How the proxy brings a branch up and says it is in use. */
export interface BranchWaker {
  /** The branch, running: started if it was stopped (making room first); throws a VelaError otherwise. */
  wake(name: string): Promise<BranchRecord>;
  /** A proxied client logged in or left: the branch is in use now (idle suspend, least recently used). */
  touch(name: string): void;
}

/** What the waker needs from the agent: the registry's view and the lifecycle's wake and touch. */
export interface WakeParts {
  find(name: string): BranchRecord | undefined;
  /** Start if stopped, making room under the capacity limit; concurrent calls share one start. */
  wake(name: string): Promise<BranchRecord>;
  touch(name: string): void;
  /** How long a client is held while its branch is being created or reset. */
  waitMs?: number;
}

const CREATING_POLL_MS = 50;

/**
 * The proxy's waker over the lifecycle (engine.lifecycle.wake: one start for concurrent wakes, room
 * made under capacity.maxRunning). A branch being created or reset is waited for. A failed branch is
 * not restarted on every connection attempt: its error goes to the client (`vela-branch start` retries).
 */
export function branchWaker(p: WakeParts): BranchWaker {
  const waitMs = p.waitMs ?? 60_000;
  return {
    async wake(name) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const rec = p.find(name);
        if (!rec) throw new VelaError('not_found', 404, `branch "${name}" does not exist`);
        switch (rec.state) {
          case 'ready':
          case 'stopped':
            return p.wake(name);
          case 'failed':
            throw new VelaError('failed', 503, `branch "${name}" failed: ${rec.error ?? 'no reason recorded'}`);
          case 'deleting':
            throw new VelaError('not_found', 404, `branch "${name}" is being deleted`);
          case 'creating':
            if (Date.now() > deadline) throw new VelaError('unavailable', 503, `branch "${name}" is still being created or reset`);
            await new Promise((r) => setTimeout(r, CREATING_POLL_MS));
            break;
          default: // a state added later: refuse rather than spin
            throw new VelaError('unavailable', 503, `branch "${name}" is ${String(rec.state)}`);
        }
      }
    },
    touch: (name) => p.touch(name),
  };
}

/**
 * The agent's waker: the registry's view and the lifecycle. A running branch counts as used only
 * once a login succeeds (the proxy touches it then): failed logins keep nothing awake.
 */
export function lifecycleWaker(engine: { manager: { find(name: string): BranchRecord | undefined }; lifecycle: Lifecycle }): BranchWaker {
  return branchWaker({
    find: (name) => engine.manager.find(name),
    wake: (name) => engine.lifecycle.wake(name, { touch: false }),
    touch: (name) => engine.lifecycle.touch(name),
  });
}
