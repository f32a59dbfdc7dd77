import type { BranchManager } from '../branches/manager.ts';
import type { BranchRecord } from '../branches/registry.ts';
import { VelaError } from '../../core/errors.ts';

/** How the proxy brings a branch up and says it is in use. */
export interface BranchWaker {
  /** The branch, running: started if it was stopped (records activity); throws a VelaError otherwise. */
  wake(name: string): Promise<BranchRecord>;
  /** A proxied client connected or left: the branch is in use now. */
  touch(name: string): void;
}

const CREATING_POLL_MS = 50;

/**
 * The waker over the state machine: a stopped branch is started (the branch lock makes concurrent
 * wakes start it once, and this map keeps them to one call); one being created or reset is waited for.
 * A failed branch is not retried on every connection: its error goes to the client.
 */
export function managerWaker(manager: BranchManager, o: { waitMs?: number } = {}): BranchWaker {
  const waitMs = o.waitMs ?? 60_000;
  const inflight = new Map<string, Promise<BranchRecord>>();
  const once = (name: string, start: () => Promise<BranchRecord>) => {
    let p = inflight.get(name);
    if (!p) {
      p = start().finally(() => inflight.delete(name));
      inflight.set(name, p);
    }
    return p;
  };
  return {
    async wake(name) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const rec = manager.find(name);
        if (!rec) throw new VelaError('not_found', 404, `branch "${name}" does not exist`);
        switch (rec.state) {
          case 'ready':
            return rec;
          case 'stopped':
            return once(name, () => manager.start(name));
          case 'failed':
            throw new VelaError('failed', 503, `branch "${name}" failed: ${rec.error ?? 'no reason recorded'}`);
          case 'deleting':
            throw new VelaError('not_found', 404, `branch "${name}" is being deleted`);
          case 'creating':
            if (Date.now() > deadline) throw new VelaError('unavailable', 503, `branch "${name}" is still being created or reset`);
            await new Promise((r) => setTimeout(r, CREATING_POLL_MS));
        }
      }
    },
    touch() {
      // Idle suspend (the lifecycle module) is not there yet: nothing records activity.
    },
  };
}
