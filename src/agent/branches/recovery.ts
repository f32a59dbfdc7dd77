import type { Provisioner } from '../provisioner/provisioner.ts';
import type { CrashLeftovers } from '../provisioner/leftovers.ts';
import type { LogFn } from '../logger.ts';
import type { BranchManager } from './manager.ts';
import type { Registry } from './registry.ts';
import type { KeyedLock } from './locks.ts';
import { exemptFromSuspend } from '../lifecycle/policy.ts';

export interface RecoveryReport {
  restarted: string[];
  adopted: string[];
  cleaned: string[];
  failed: string[];
  /** Ready branches left stopped because starting them would exceed the capacity. */
  stoppedForCapacity: string[];
  /** Orphan volumes moved aside ("name → .quarantine-name-stamp"). */
  quarantined: string[];
}

export interface RecoveryParts {
  registry: Registry;
  locks: KeyedLock;
  provisioner: Provisioner;
  leftovers: CrashLeftovers;
  /** Restarts and redone resets go through the state machine like any other. */
  manager: BranchManager;
  /** Running branches at most (capacity); ready ones beyond it come back stopped. null = no limit. */
  runningLimit?: number | null;
  log: LogFn;
}

/** Postgres starts at once after a host reboot: start time is mostly waiting on I/O, not CPU. */
const RESTART_CONCURRENCY = 4;

/**
 * After a crash or restart: ready branches come back (same port and credentials), half-made ones
 * and stray processes are removed; orphan volumes are quarantined and unreadable records left alone.
 */
export class BranchRecovery {
  private readonly parts: RecoveryParts;

  constructor(parts: RecoveryParts) {
    this.parts = parts;
  }

  /** Returns what was cleaned, restarted and adopted, for the log. */
  async run(): Promise<RecoveryReport> {
    const { registry, locks, provisioner, leftovers, manager, log } = this.parts;
    const out: RecoveryReport = { restarted: [], adopted: [], cleaned: [], failed: [], stoppedForCapacity: [], quarantined: [] };
    // openEngine loaded the registry once, before the root builder's own recovery ran on it.
    const records = registry.all();
    const keep = new Set(records.filter((r) => r.state === 'ready' || r.state === 'stopped' || r.state === 'failed').map((r) => r.name));
    // Branches whose record could not be read: their volume and postgres are left exactly as they are.
    const unreadable = new Set(registry.quarantined.map((q) => q.branch));
    for (const q of registry.quarantined) {
      log('error', `recovery: the record of branch ${q.branch} is unreadable (${q.reason}); moved to ${q.movedTo}; its volume is kept`);
      keep.add(q.branch);
    }

    // 1. Processes working on anything we do not keep (pg_ctl and postmasters of half-made branches).
    out.cleaned.push(...(await leftovers.killStrays(keep)));

    // 2. Records of half-made or half-deleted branches. A half-done reset keeps its record (name,
    //    port, credentials) and is redone below, once its parent runs again.
    const redo: string[] = [];
    for (const rec of records) {
      if (rec.state === 'creating' && rec.resetting) {
        await provisioner.dropVolume(rec);
        rec.state = 'failed';
        rec.error = 'a reset was interrupted (agent crash); the agent redoes it on start';
        await registry.put(rec);
        redo.push(rec.name);
        out.cleaned.push(`interrupted reset of ${rec.name}`);
        continue;
      }
      // A rebase the rebaser could not resolve keeps its data: never dropped as a half-made branch.
      if (rec.state === 'creating' && rec.rebasing) continue;
      if (rec.state === 'creating' || rec.state === 'deleting') {
        await provisioner.dropVolume(rec);
        await registry.remove(rec.name);
        out.cleaned.push(`${rec.state} branch ${rec.name}`);
      }
    }
    // 3. Volumes no record claims: moved into quarantine, never deleted on a guess.
    for (const moved of await leftovers.quarantineOrphanVolumes((v) => registry.has(v) || unreadable.has(v))) {
      out.quarantined.push(moved);
    }
    // 4. Socket dirs of ports nobody owns.
    //    Not while a record is unreadable: its port is unknown and its postgres may still run.
    if (unreadable.size === 0) await leftovers.removeStraySocketDirs(registry.all().map((r) => r.port));
    // 5. Ready branches: adopt a running postmaster or start it again (a few at a time; a host
    //    with hundreds of branches must be back in seconds). Beyond the capacity they stay stopped.
    const ready = registry.all().filter((r) => r.state === 'ready');
    const running = new Set<string>();
    for (const rec of ready) if (await provisioner.isRunning(rec.name)) running.add(rec.name);
    const limit = this.parts.runningLimit ?? null;
    let slots = limit === null ? Infinity : limit - running.size;
    const restart: typeof ready = [];
    // main, protected branches and the like first and always: they are never suspended either.
    const order = [...ready].sort((a, b) => Number(exemptFromSuspend(b)) - Number(exemptFromSuspend(a)));
    for (const rec of order) {
      if (running.has(rec.name)) continue;
      if (exemptFromSuspend(rec) || slots > 0) {
        restart.push(rec);
        slots--;
      } else out.stoppedForCapacity.push(rec.name);
    }
    const bring = async (rec: (typeof ready)[number]) => {
      try {
        await locks.run(rec.name, () => manager.bringBack(rec));
        (running.has(rec.name) ? out.adopted : out.restarted).push(rec.name);
      } catch {
        out.failed.push(rec.name);
      }
    };
    await inParallel(
      ready.filter((r) => running.has(r.name)),
      RESTART_CONCURRENCY * 2,
      bring,
    );
    await inParallel(restart, RESTART_CONCURRENCY, bring);
    for (const name of out.stoppedForCapacity) {
      const rec = registry.get(name);
      if (!rec) continue;
      rec.state = 'stopped';
      await registry.put(rec);
    }
    // 6. Interrupted resets, now that parents are up again.
    for (const name of redo) {
      try {
        await manager.reset(name, { force: true });
        out.restarted.push(name);
      } catch {
        out.failed.push(name);
      }
    }
    if (out.quarantined.length) {
      log('error', `recovery: volumes no record claims, moved into quarantine (see vela-branch doctor): ${out.quarantined.join('; ')}`);
    }
    if (out.cleaned.length) log('warn', `recovery cleaned: ${out.cleaned.join('; ')}`, { cleaned: out.cleaned });
    if (out.restarted.length || out.adopted.length) {
      log('info', `recovery: restarted ${out.restarted.length}, adopted ${out.adopted.length} running branches`, { ...out });
    }
    if (out.stoppedForCapacity.length) {
      log('warn', `recovery: over the capacity, left stopped (a wake starts them): ${out.stoppedForCapacity.join(', ')}`);
    }
    if (out.failed.length) log('error', `recovery: could not start ${out.failed.join(', ')} (state failed, data kept)`);
    return out;
  }
}

/** Runs `fn` over `items`, at most `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
