import type { Probot } from 'probot';
import type { AgentClient } from '../core/client.ts';
import type { WaitOptions } from '../core/workflows/ready.ts';
import { TaskTracker } from './tasks.ts';
import { KeyedLock } from './keyed-lock.ts';
import { DeliveryLog } from './deliveries.ts';
import { StickyComments } from './sticky.ts';
import { botLoginResolver } from './identity.ts';

export interface AppOptions {
  agent: AgentClient;
  clock?: () => Date;
  /** Background work of the handlers; pass one in to await it (tests, graceful shutdown). */
  tasks?: TaskTracker;
  /** The app's slug; without it the app asks GitHub once (`GET /app`). */
  appSlug?: string;
  /** How long (and how often) to wait for a branch the agent is still creating. */
  wait?: WaitOptions;
}

/** Everything a handler needs, injected so tests can swap any of it. */
export interface AppDeps {
  agent: AgentClient;
  clock: () => Date;
  tasks: TaskTracker;
  locks: KeyedLock;
  deliveries: DeliveryLog;
  sticky: StickyComments;
  botLogin: () => Promise<string>;
  wait: WaitOptions;
}

export function buildDeps(app: Probot, opts: AppOptions): AppDeps {
  return {
    agent: opts.agent,
    clock: opts.clock ?? (() => new Date()),
    tasks: opts.tasks ?? new TaskTracker(),
    locks: new KeyedLock(),
    deliveries: new DeliveryLog(),
    sticky: new StickyComments(),
    botLogin: botLoginResolver(app, opts.appSlug),
    wait: opts.wait ?? { pollMs: 2000, timeoutMs: 60_000 },
  };
}
