import { join } from 'node:path';
import type { PostgresControl } from '../postgres/instance.ts';
import { SUPERUSER } from '../postgres/instance.ts';
import type { BranchRecord, Registry } from '../branches/registry.ts';
import type { KeyedLock } from '../branches/locks.ts';
import type { LogFn } from '../logger.ts';
import { conflict, notFound } from '../../core/errors.ts';
import type { CapturedTransaction, ChangeLogReader, TableChangeCounts } from './change-log-types.ts';
import { ChangeLogStore } from './change-log.ts';
import { hasSlot, installCapture, installDormant, newSlotName } from './install.ts';
import { CaptureLostError, drainSlot } from './drain.ts';
import { countChanges } from './counts.ts';

export interface CaptureParts {
  pg: PostgresControl;
  registry: Registry;
  locks: KeyedLock;
  /** The agent's data dir: logs go to `<dataDir>/changes/<branch>/`. */
  dataDir: string;
  log: LogFn;
  /** How often a busy branch is drained (ms); idle ones back off up to 16x. 0: no background drain. */
  pollMs?: number;
}

const MAX_BACKOFF = 16;

/**
 * Change capture of every ordinary branch (see docs/architecture.md, "Change capture"): installs
 * it when a branch is made or reset, drains each running branch's slot into its change log in the
 * background and before the branch stops, and reads the log back (ChangeLogReader).
 */
export class Capture implements ChangeLogReader {
  readonly store: ChangeLogStore;
  private readonly parts: CaptureParts;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private readonly backoff = new Map<string, { every: number; next: number }>();
  private readonly lags = new Map<string, number>();

  constructor(parts: CaptureParts) {
    this.parts = parts;
    this.store = new ChangeLogStore(join(parts.dataDir, 'changes'));
  }

  /**
   * Which branches capture: every branch with a parent (a branch of a branch too). Not the root
   * `main` (nothing to rebase it onto), not a physical standby (read-only, no slot or trigger can
   * be made), not masked templates (their masking would be logged with the values it replaces).
   */
  wants(rec: BranchRecord): boolean {
    return rec.parent !== null && !rec.standby && !rec.mask;
  }

  // ---------------------------------------------------------------- install, forget

  /**
   * Starts capture in a freshly made (or reset) branch: an empty log, then the schema, triggers
   * and slot in the branch. Runs before TCP logins are let in, so the first client change is caught.
   */
  async install(rec: BranchRecord, opts: { keepLog?: boolean } = {}): Promise<void> {
    await this.lock(rec.name, async () => {
      const kept = opts.keepLog ? await this.store.meta(rec.name) : null;
      // The old log goes while the branch's postgres does its part.
      const removing = kept ? Promise.resolve() : this.store.remove(rec.name);
      removing.catch(() => {});
      this.lags.delete(rec.name);
      this.backoff.delete(rec.name);
      const slot = newSlotName();
      const installing = this.parts.pg.withClient(
        { port: rec.port, superuser: rec.superuser },
        async (c) => {
          // Run again after a crash: the slot it made is there, the log already tied to it.
          if (kept && (await hasSlot(c, kept.slot))) return null;
          return installCapture(c, { superuser: rec.superuser ?? SUPERUSER, slot });
        },
        rec.database,
      );
      const [installed] = await Promise.all([installing, removing]);
      if (!installed) return;
      if (!installed.inherited) this.prepareParentLater(rec);
      if (kept) await this.store.carryOver(rec.name, { slot, forkLsn: installed.forkLsn });
      else {
        await this.store.reset(rec.name, {
          slot,
          database: rec.database,
          forkLsn: installed.forkLsn,
          createdAt: new Date().toISOString(),
        });
      }
    });
  }

  /**
   * After a branch had to get the objects itself: its parent, if it does not capture, gets them
   * dormant, off the request path, so its next branches inherit them (about 40 ms less per create).
   */
  private prepareParentLater(rec: BranchRecord): void {
    const parent = rec.parent ? this.parts.registry.get(rec.parent) : undefined;
    if (!parent || parent.state !== 'ready' || parent.standby || parent.mask || this.wants(parent)) return;
    setTimeout(() => {
      void this.lock(parent.name, () =>
        this.parts.pg.withClient(
          { port: parent.port, superuser: parent.superuser },
          (c) => installDormant(c, { superuser: parent.superuser ?? SUPERUSER }),
          parent.database,
        ),
      ).catch((e) => this.parts.log('warn', `capture: could not prepare ${parent.name} for its branches: ${(e as Error).message}`));
    }, 100).unref();
  }

  /**
   * What rebase needs (branches/rebase-parts.ts): the reader, and capture on the swapped-in volume
   * that keeps the log (the replayed transactions stay the branch's changes: a rebase keeps counting).
   */
  forRebase(): { reader: ChangeLogReader; install(rec: BranchRecord): Promise<void> } {
    return { reader: this, install: (rec) => this.install(rec, { keepLog: true }) };
  }

  /** A deleted branch's log goes with it. */
  forget(name: string): Promise<void> {
    this.lags.delete(name);
    this.backoff.delete(name);
    return this.lock(name, () => this.store.remove(name));
  }

  /** Logs of branches that no longer exist (a crash between a delete and this cleanup). */
  async prune(): Promise<void> {
    for (const name of await this.store.branches()) {
      if (!this.parts.registry.has(name)) await this.forget(name);
    }
  }

  /** Whether a branch has a change log (made with capture, not broken). */
  async capturing(name: string): Promise<boolean> {
    const meta = await this.store.meta(name);
    return meta !== null && !meta.broken;
  }

  // ---------------------------------------------------------------- draining

  /** Drains one branch now (no-op when it has no capture or its postgres is not running). */
  async drain(name: string): Promise<number> {
    return this.lock(name, async () => {
      const rec = this.parts.registry.get(name);
      const meta = rec ? await this.store.meta(name) : null;
      if (!rec || !meta || meta.broken) return 0;
      try {
        const r = await this.parts.pg.withClient(
          { port: rec.port, superuser: rec.superuser },
          (c) => drainSlot(c, { store: this.store, branch: name, slot: meta.slot }),
          meta.database,
        );
        this.lags.set(name, r.lagBytes);
        return r.transactions;
      } catch (err) {
        if (err instanceof CaptureLostError) {
          await this.store.writeMeta(name, { ...meta, broken: err.message });
          this.parts.log('error', `capture of branch ${name} lost changes: ${err.message}; a reset starts it again`, { branch: name });
          return 0;
        }
        throw err;
      }
    });
  }

  /** Before a branch stops: everything it committed goes into the log (a failure is logged; the slot keeps it). */
  async beforeStop(name: string): Promise<void> {
    await this.drain(name).catch((e) =>
      this.parts.log('warn', `capture: could not drain ${name} before it stopped (kept in its slot): ${(e as Error).message}`),
    );
  }

  /** Background draining of every ready branch, busy ones every pollMs, idle ones less often. */
  start(): void {
    const every = this.parts.pollMs ?? 1000;
    if (every <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.tick(every), every);
    this.timer.unref();
  }

  private async tick(every: number): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const now = Date.now();
      for (const rec of this.parts.registry.all()) {
        if (rec.state !== 'ready' || !this.wants(rec)) continue;
        // Not while an operation holds the branch (stop, reset, rebase drain it themselves when they need to).
        if (this.parts.locks.busy(rec.name)) continue;
        const b = this.backoff.get(rec.name) ?? { every, next: 0 };
        if (b.next > now) continue;
        // A branch stopping or being reset under us fails a round; the slot keeps what it holds.
        const n = await this.drain(rec.name).catch(() => 0);
        b.every = n > 0 ? every : Math.min(b.every * 2, every * MAX_BACKOFF);
        b.next = Date.now() + b.every;
        this.backoff.set(rec.name, b);
      }
    } finally {
      this.ticking = false;
    }
  }

  /** Stops background draining, draining nothing more. */
  stopDraining(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stops background draining after a last drain of every ready branch (agent shutdown). */
  async close(): Promise<void> {
    this.stopDraining();
    for (const rec of this.parts.registry.all()) {
      if (rec.state === 'ready' && this.wants(rec)) await this.beforeStop(rec.name);
    }
  }

  /** Bytes of WAL each branch's slot held back at its last drain (`vela_capture_slot_lag_bytes`). */
  slotLag(): Record<string, number> {
    return Object.fromEntries([...this.lags].sort(([a], [b]) => a.localeCompare(b)));
  }

  // ---------------------------------------------------------------- reading (ChangeLogReader)

  async *transactions(branch: string): AsyncIterable<CapturedTransaction> {
    await this.readable(branch);
    yield* this.store.read(branch);
  }

  async counts(branch: string, opts: { sample?: number } = {}): Promise<TableChangeCounts[]> {
    await this.readable(branch);
    const meta = await this.store.meta(branch);
    return countChanges(this.store.read(branch), { sample: opts.sample, keys: meta?.keys });
  }

  /** Drains a running branch first; refuses a branch without a complete change log. */
  private async readable(branch: string): Promise<void> {
    const rec = this.parts.registry.get(branch);
    if (!rec) throw notFound(`branch ${branch} does not exist`);
    if (rec.state === 'ready') await this.drain(branch);
    const meta = await this.store.meta(branch);
    if (!meta) {
      throw conflict(
        this.wants(rec)
          ? `branch ${branch} has no change log (made before change capture existed): reset it to start capturing`
          : `branch ${branch} has no change log: ${rec.parent === null ? 'the root branch' : rec.standby ? 'a standby' : 'a masked template'} does not capture changes`,
      );
    }
    if (meta.broken) throw conflict(`branch ${branch} lost captured changes (${meta.broken}): reset it to start capturing again`);
  }

  private lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.parts.locks.run(`capture:${name}`, fn);
  }
}
