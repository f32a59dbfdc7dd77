import type { Admit, BranchManager, CreateRequest } from '../branches/manager.ts';
import type { BranchRecord } from '../branches/registry.ts';
import type { Prepare } from '../provisioner/provisioner.ts';
import type { LogFn } from '../logger.ts';
import { capacityFull, conflict } from '../../core/errors.ts';
import { formatBytes, formatDuration } from '../../core/durations.ts';
import { Activity } from './activity.ts';
import { exemptFromSuspend, isRunningState, runningLimit } from './policy.ts';
import type { LifecyclePolicy } from './policy.ts';

export interface LifecycleParts {
  manager: BranchManager;
  policy: LifecyclePolicy;
  /** Client backends of a running branch, the agent's own connections not counted. */
  clientCount: (rec: BranchRecord) => Promise<number>;
  log: LogFn;
}

export interface LifecycleStats {
  running: number;
  limit: number | null;
  suspends: { idle: number; capacity: number };
  wakes: number;
  capacityRefusals: number;
}

/**
 * Which branches run: idle ones are suspended (stopped, storage, port and credentials kept), a
 * start or create that would exceed the capacity first suspends the least recently used idle one,
 * and `wake` is the one way anything (the API's start, the proxy) brings a branch back.
 */
export class Lifecycle {
  private readonly parts: LifecycleParts;
  private readonly activity = new Activity();
  /** Starts under way, by branch: concurrent wakes of one branch share one start. */
  private readonly waking = new Map<string, Promise<BranchRecord>>();
  private readonly suspending = new Map<string, Promise<void>>();
  /** Branches admitted to run but not `ready` yet: counted against the limit. */
  private readonly reserved = new Set<string>();
  /** Admissions one at a time, so two of them never take the same last slot. */
  private admissions: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private readonly counters = { idle: 0, capacity: 0, wakes: 0, refusals: 0 };
  private readonly wakeListeners: ((seconds: number) => void)[] = [];

  constructor(parts: LifecycleParts) {
    this.parts = parts;
  }

  /** Something used the branch (a proxied connection, a query): its idle clock starts again. */
  touch(name: string): void {
    this.activity.touch(name);
  }

  /**
   * The branch, running: started if stopped (or failed), after making room. Concurrent wakes of one
   * branch share one start; a suspension in flight finishes first. 404/409 as `start`, 503 `capacity`.
   * `touch: false` (the proxy): a running branch is not counted as used until its login succeeds.
   */
  wake(name: string, opts: { touch?: boolean } = {}): Promise<BranchRecord> {
    if (opts.touch !== false) this.touch(name);
    const inflight = this.waking.get(name);
    if (inflight) return inflight;
    const rec = this.parts.manager.find(name);
    if (rec?.state === 'ready' && !this.suspending.has(name)) return Promise.resolve(rec);
    const p = this.startWoken(name).finally(() => this.waking.delete(name));
    this.waking.set(name, p);
    return p;
  }

  private async startWoken(name: string): Promise<BranchRecord> {
    await this.suspending.get(name);
    const rec = this.parts.manager.get(name);
    if (rec.state === 'ready') return rec;
    if (rec.state !== 'stopped' && rec.state !== 'failed') throw conflict(`branch ${name} is ${rec.state}; it cannot be started now`);
    const t0 = performance.now();
    const started = await this.admitted(name, async (admit) => {
      await admit();
      return this.parts.manager.start(name);
    });
    const seconds = (performance.now() - t0) / 1000;
    this.touch(name);
    this.counters.wakes++;
    for (const l of this.wakeListeners) l(seconds);
    this.parts.log('info', `woke branch ${name} in ${Math.round(seconds * 1000)} ms`, { branch: name });
    return started;
  }

  /** `manager.create`, with room made once the request passed the manager's checks (bad input changes nothing). */
  async create(req: CreateRequest, hooks: { prepare?: Prepare } = {}): Promise<{ record: BranchRecord; created: boolean }> {
    const out = await this.admitted(req.name, (admit) => this.parts.manager.create(req, { ...hooks, admit }));
    this.touch(req.name);
    return out;
  }

  /** `manager.reset`; a branch that is not running now will be after it, so it needs room. */
  async reset(name: string, opts: { force?: boolean } = {}): Promise<BranchRecord> {
    const running = isRunningState(this.parts.manager.get(name));
    const out = await this.admitted(name, (admit) => this.parts.manager.reset(name, running ? opts : { ...opts, admit }));
    this.touch(name);
    return out;
  }

  // ---------------------------------------------------------------- capacity

  /**
   * Runs `run` with an `admit` that makes room for `name` (suspending the least recently used idle
   * branch) and reserves its slot until `run` ends; without a limit, admit does nothing.
   */
  private async admitted<T>(name: string, run: (admit: Admit) => Promise<T>): Promise<T> {
    const limit = runningLimit(this.parts.policy);
    if (limit === null) return run(async () => {});
    const admit = () => {
      const turn = this.admissions.then(() => this.makeRoom(name, limit));
      this.admissions = turn.catch(() => {});
      return turn;
    };
    try {
      return await run(admit);
    } finally {
      this.reserved.delete(name);
    }
  }

  private runningNames(): Set<string> {
    const names = new Set(
      this.parts.manager
        .list()
        .filter(isRunningState)
        .map((r) => r.name),
    );
    for (const n of this.reserved) names.add(n);
    return names;
  }

  /** Suspends least recently used idle branches until `name` fits, then reserves its slot. */
  private async makeRoom(name: string, limit: number): Promise<void> {
    const tried = new Set<string>();
    for (;;) {
      const running = this.runningNames();
      running.add(name);
      if (running.size <= limit) break;
      const victim = await this.leastRecentlyUsedIdle(name, tried);
      if (!victim) {
        this.counters.refusals++;
        throw capacityFull(
          `no room to run branch ${name}: ${running.size - 1} branches run, the limit is ${limit} (${this.limitText()}), and none of them is idle: ` +
            'disconnect clients or stop or delete a branch, or raise the capacity in the agent config',
        );
      }
      await this.suspend(victim, 'capacity');
    }
    this.reserved.add(name);
  }

  private limitText(): string {
    const { maxRunning, memoryBudgetBytes, branchBytes } = this.parts.policy;
    const parts = [];
    if (maxRunning !== null) parts.push(`capacity.maxRunning ${maxRunning}`);
    if (memoryBudgetBytes !== null)
      parts.push(`capacity.memoryBudget ${formatBytes(memoryBudgetBytes)} at ${formatBytes(branchBytes)} per branch`);
    return parts.join(', ');
  }

  /** The running branch idle the longest with no client connected now; null when every one is busy or exempt. */
  private async leastRecentlyUsedIdle(except: string, tried: Set<string>): Promise<string | null> {
    const candidates = this.parts.manager
      .list()
      .filter((r) => r.state === 'ready' && r.name !== except && !tried.has(r.name) && !this.reserved.has(r.name) && !exemptFromSuspend(r))
      .sort((a, b) => this.activity.peek(a.name) - this.activity.peek(b.name));
    for (const rec of candidates) {
      tried.add(rec.name);
      if (this.waking.has(rec.name) || this.suspending.has(rec.name)) continue;
      const clients = await this.parts.clientCount(rec).catch(() => null);
      if (clients === 0) return rec.name;
      if (clients !== null) this.activity.markBusy(rec.name, true);
    }
    return null;
  }

  // ---------------------------------------------------------------- idle suspend

  /** Stops a branch for idleness or to make room; a wake of it waits for this to finish. */
  private async suspend(name: string, reason: 'idle' | 'capacity'): Promise<void> {
    const p = (async () => {
      const rec = await this.parts.manager.stop(name, { commit: reason !== 'capacity' });
      this.activity.forget(name);
      this.counters[reason]++;
      this.parts.log('info', `suspended branch ${name} (${reason === 'idle' ? 'idle' : 'to make room for another'})`, {
        branch: rec.name,
        reason,
      });
    })();
    this.suspending.set(name, p);
    try {
      await p;
    } finally {
      this.suspending.delete(name);
    }
  }

  /**
   * One pass of idle suspend. Cheap for hundreds of branches: only branches whose last known
   * activity is older than the timeout, or that had clients at their last check, are asked.
   */
  async sweep(now = Date.now()): Promise<string[]> {
    const after = this.parts.policy.suspendAfterMs;
    if (after === null || this.sweeping) return [];
    this.sweeping = true;
    const suspended: string[] = [];
    try {
      const all = this.parts.manager.list();
      this.activity.prune(new Set(all.map((r) => r.name)));
      for (const rec of all) {
        if (rec.state !== 'ready' || exemptFromSuspend(rec) || this.waking.has(rec.name) || this.reserved.has(rec.name)) continue;
        const last = this.activity.lastActive(rec.name, now);
        if (!this.activity.isBusy(rec.name) && now - last < after) continue;
        const clients = await this.parts.clientCount(rec).catch(() => null);
        if (clients === null) continue; // cannot tell (postgres busy or going away): not suspended on a guess
        if (clients > 0) {
          this.activity.markBusy(rec.name, true, now);
          continue;
        }
        this.activity.markBusy(rec.name, false);
        // Idle since the last sighting of a client, and not touched (a proxied connection) meanwhile.
        if (now - last < after || this.activity.peek(rec.name) !== last) continue;
        try {
          await this.suspend(rec.name, 'idle');
          suspended.push(rec.name);
        } catch (err) {
          this.parts.log('warn', `idle suspend of ${rec.name} failed: ${(err as Error).message}`, { branch: rec.name });
        }
      }
    } finally {
      this.sweeping = false;
    }
    if (suspended.length) {
      this.parts.log('info', `suspended ${suspended.length} idle branches (no client for ${formatDuration(after)})`, { suspended });
    }
    return suspended;
  }

  /** Sweeps on a timer: an eighth of the timeout, between 250 ms and 30 s. */
  startSweeping(): void {
    const after = this.parts.policy.suspendAfterMs;
    if (after === null || this.timer) return;
    const every = Math.min(30_000, Math.max(250, Math.floor(after / 8)));
    this.timer = setInterval(() => {
      void this.sweep().catch((e) => this.parts.log('warn', `idle sweep failed: ${(e as Error).message}`));
    }, every);
    this.timer.unref();
  }

  stopSweeping(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Called with the seconds of every wake that started postgres (the metrics' histogram). */
  onWake(listener: (seconds: number) => void): void {
    this.wakeListeners.push(listener);
  }

  /** The running count, the limit and what idle suspend and capacity did (for /metrics). */
  stats(): LifecycleStats {
    return {
      running: this.runningNames().size,
      limit: runningLimit(this.parts.policy),
      suspends: { idle: this.counters.idle, capacity: this.counters.capacity },
      wakes: this.counters.wakes,
      capacityRefusals: this.counters.refusals,
    };
  }
}
