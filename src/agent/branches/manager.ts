import type { Phases } from '../provisioner/phases.ts';
import type { StorageDriver } from '../storage/driver.ts';
import type { Prepare, Provisioner, StepHook } from '../provisioner/provisioner.ts';
import { assertMasked, beginMaskBuild } from '../templates/masking.ts';
import type { ReplicationLag } from '../provisioner/replication.ts';
import { toApiError } from '../provisioner/failures.ts';
import type { LogFn } from '../logger.ts';
import type { BranchRecord, Registry } from './registry.ts';
import { childRecord, emptyRootRecord } from './new-record.ts';
import type { KeyedLock } from './locks.ts';
import { badRequest, conflict, notFound } from '../../core/errors.ts';
import { branchNameProblem, ROOT_BRANCH } from '../../core/names.ts';
import { parseDuration } from '../../core/durations.ts';
import type { Capture } from '../capture/capture.ts';

export interface ManagerParts {
  registry: Registry;
  /** Per-branch locks, shared with the root builder and recovery. */
  locks: KeyedLock;
  provisioner: Provisioner;
  /** The pool: its kind goes into records; health and metrics read its usage. */
  storage: StorageDriver;
  defaultTtl: string | null;
  log: LogFn;
  onStep?: StepHook;
  /** Change capture: drained before a branch stops, its log dropped on reset and delete. */
  capture?: Pick<Capture, 'beforeStop' | 'forget'>;
}

export interface CreateRequest {
  name: string;
  parent?: string;
  ttl?: string;
  labels?: Record<string, string>;
  ifExists?: 'return' | 'fail';
}

export { ROOT_BRANCH };

/** Runs once a create or reset passed its checks, before anything starts: the capacity's room (lifecycle). */
export type Admit = () => Promise<void>;

/**
 * The branch state machine: create, reset, delete, patch, stop, start, expire. Takes the branch's
 * lock, checks the state, persists each state before the step it announces (so recovery knows
 * what to undo) and leaves the steps themselves to the provisioner.
 */
export class BranchManager {
  private readonly registry: Registry;
  private readonly locks: KeyedLock;
  private readonly provisioner: Provisioner;
  readonly storage: StorageDriver;
  private readonly defaultTtl: string | null;
  private readonly log: LogFn;
  private readonly onStep?: StepHook;
  private readonly capture?: ManagerParts['capture'];

  constructor(parts: ManagerParts) {
    this.registry = parts.registry;
    this.locks = parts.locks;
    this.provisioner = parts.provisioner;
    this.storage = parts.storage;
    this.defaultTtl = parts.defaultTtl;
    this.log = parts.log;
    this.onStep = parts.onStep;
    this.capture = parts.capture;
  }

  list(): BranchRecord[] {
    return this.registry.all();
  }

  get(name: string): BranchRecord {
    const rec = this.registry.get(name);
    if (!rec) throw notFound(`branch ${name} does not exist`);
    return rec;
  }

  find(name: string): BranchRecord | undefined {
    return this.registry.get(name);
  }

  // ---------------------------------------------------------------- create

  /**
   * `prepare` runs on the started branch before TCP logins are let in and before it is marked ready
   * (nobody can connect, branch from it or get its credentials yet): how templates are masked.
   */
  async create(req: CreateRequest, hooks: { prepare?: Prepare; admit?: Admit } = {}): Promise<{ record: BranchRecord; created: boolean }> {
    const problem = branchNameProblem(req.name);
    if (problem) throw badRequest(problem);
    const parentName = req.parent ?? ROOT_BRANCH;
    const ttlMs = this.ttlMs(req.ttl ?? this.defaultTtl ?? undefined);
    return this.locks.run(req.name, async () => {
      const existing = this.registry.get(req.name);
      if (existing) {
        if ((req.ifExists ?? 'fail') === 'return' && existing.parent === parentName && existing.state !== 'failed') {
          return { record: existing, created: false };
        }
        throw conflict(`branch ${req.name} already exists (parent ${existing.parent ?? '-'}, state ${existing.state})`);
      }
      // A volume without a record (kept from an unreadable record): never built over, never removed.
      if (await this.provisioner.volumeExists(req.name)) {
        throw conflict(`a volume named ${req.name} already exists without a readable record; see vela-branch doctor`);
      }
      const parent = this.registry.get(parentName);
      if (!parent) throw notFound(`parent branch ${parentName} does not exist`);
      if (parent.state !== 'ready' && parent.state !== 'stopped') {
        throw conflict(`parent branch ${parentName} is ${parent.state}; only a ready or stopped branch can be branched`);
      }
      assertMasked(parent);
      await this.provisioner.assertRoom();
      await hooks.admit?.();
      const started = performance.now();
      const port = await this.provisioner.allocatePort();
      const rec = childRecord({
        name: req.name,
        parent,
        port,
        ttlMs,
        labels: req.labels,
        driver: this.storage.kind,
        now: new Date(),
      });
      let phases: Phases | undefined;
      try {
        await this.registry.put(rec);
        await this.step('registered', rec.name);
        phases = await this.provisioner.materializeOnFreePort(rec, parent, (moved) => this.registry.put(moved), hooks.prepare);
        assertMasked(rec);
        rec.state = 'ready';
        rec.timings.createMs = Math.round(performance.now() - started);
        await this.registry.put(rec);
      } catch (err) {
        const context = await this.provisioner.failureContext(rec.name);
        await this.undoCreate(rec);
        throw toApiError(err, `create ${rec.name}`, context);
      } finally {
        this.provisioner.releasePort(port);
        this.provisioner.releasePort(rec.port);
      }
      this.log('info', `created branch ${rec.name} from ${parentName} in ${rec.timings.createMs} ms`, {
        branch: rec.name,
        parent: parentName,
        port,
        createMs: rec.timings.createMs,
        phases,
      });
      this.measureLater(rec.name);
      return { record: rec, created: true };
    });
  }

  private async undoCreate(rec: BranchRecord): Promise<void> {
    await this.provisioner.discard(rec);
    await this.registry.remove(rec.name);
  }

  // ---------------------------------------------------------------- root branch

  /** Creates an empty `main` (initdb) when the pool has none. */
  async ensureRoot(): Promise<BranchRecord | null> {
    if (this.registry.get(ROOT_BRANCH)) return null;
    // initdb only when there is no main volume at all: one without a readable record is kept as it is.
    if (await this.provisioner.volumeExists(ROOT_BRANCH)) {
      this.log('error', 'main has a volume but no readable record: not initialised again; see vela-branch doctor');
      return null;
    }
    return this.locks.run(ROOT_BRANCH, () => this.initRoot());
  }

  /** Seeds, imports and replicas are the root builder's job; this is the empty `main` of a first start. */
  private async initRoot(): Promise<BranchRecord> {
    const started = performance.now();
    const port = await this.provisioner.allocatePort();
    const rec = emptyRootRecord({ port, driver: this.storage.kind, now: new Date() });
    try {
      await this.registry.put(rec);
      await this.provisioner.initEmpty(rec, (moved) => this.registry.put(moved));
      rec.state = 'ready';
      rec.timings.createMs = Math.round(performance.now() - started);
      await this.registry.put(rec);
    } catch (err) {
      await this.undoCreate(rec);
      throw toApiError(err, 'initialise main');
    } finally {
      this.provisioner.releasePort(port);
      this.provisioner.releasePort(rec.port);
    }
    this.log('info', `initialised root branch main (PostgreSQL ${this.provisioner.postgresMajor()}) in ${rec.timings.createMs} ms`);
    return rec;
  }

  // ---------------------------------------------------------------- reset

  async reset(name: string, opts: { force?: boolean; prepare?: Prepare; admit?: Admit } = {}): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (!rec.parent) throw conflict(`branch ${name} has no parent to reset from`);
      if (rec.protected && !opts.force) throw conflict(`branch ${name} is protected: reset needs force (and an admin token)`);
      if (rec.mask && !opts.prepare) {
        throw conflict(`branch ${name} is a masked template: refresh rebuilds it through its masking SQL; reset cannot`);
      }
      if (this.registry.children(name).length > 0 && this.storage.kind === 'zfs') {
        throw conflict(`branch ${name} has children; on ZFS delete them before resetting it`);
      }
      const parent = this.get(rec.parent);
      if (parent.state !== 'ready' && parent.state !== 'stopped') throw conflict(`parent branch ${parent.name} is ${parent.state}`);
      await opts.admit?.();
      const started = performance.now();
      rec.state = 'creating';
      rec.resetting = true;
      if (rec.mask) beginMaskBuild(rec); // new data: a template is unmasked until its masking runs again
      await this.registry.put(rec);
      try {
        await this.provisioner.wipe(name);
        await this.capture?.forget(name); // a new fork point: the old log is no longer this branch's
        await this.provisioner.materialize(rec, parent, opts.prepare);
        assertMasked(rec);
        rec.state = 'ready';
        delete rec.error;
        delete rec.resetting;
        rec.timings.resetMs = Math.round(performance.now() - started);
        await this.registry.put(rec);
      } catch (err) {
        const e = toApiError(err, `reset ${name}`);
        await this.provisioner.stopQuietly(name);
        rec.state = 'failed';
        rec.error = e.message;
        delete rec.resetting;
        await this.registry.put(rec);
        throw e;
      }
      this.log('info', `reset branch ${name} from ${parent.name} in ${rec.timings.resetMs} ms`, { branch: name });
      this.measureLater(name);
      return rec;
    });
  }

  // ---------------------------------------------------------------- delete

  async delete(name: string, opts: { cascade?: boolean; force?: boolean } = {}): Promise<string[]> {
    const rec = this.get(name);
    if (rec.protected && !opts.force) throw conflict(`branch ${name} is protected: delete needs force (and an admin token)`);
    const deleted: string[] = [];
    if (opts.cascade) {
      // Deepest first, each under its own lock, so no lock is held while waiting for a descendant's.
      for (const child of this.registry.children(name))
        deleted.push(...(await this.delete(child.name, { cascade: true, force: opts.force })));
    }
    await this.locks.run(name, async () => {
      const current = this.get(name);
      const children = this.registry.children(name).map((c) => c.name);
      if (children.length)
        throw conflict(`branch ${name} has children (${children.join(', ')}): delete them first or pass cascade`, { children });
      current.state = 'deleting';
      await this.registry.put(current);
      await this.provisioner.destroy(current);
      await this.capture?.forget(name);
      await this.registry.remove(name);
    });
    this.log('info', `deleted branch ${name}`, { branch: name });
    deleted.push(name);
    return deleted;
  }

  // ---------------------------------------------------------------- patch, stop, start

  async patch(name: string, p: { ttl?: string | null; labels?: Record<string, string>; protected?: boolean }): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (p.ttl !== undefined) {
        const ms = p.ttl === null ? null : this.ttlMs(p.ttl);
        rec.expiresAt = ms ? new Date(Date.now() + ms).toISOString() : null;
      }
      if (p.labels) rec.labels = { ...rec.labels, ...p.labels };
      if (p.protected !== undefined) rec.protected = p.protected;
      await this.registry.put(rec);
      return rec;
    });
  }

  /** `commit: false` when a wake waits for this stop (a capacity suspend): the pool commits on its own timer. */
  async stop(name: string, opts: { commit?: boolean } = {}): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (rec.state !== 'ready') throw conflict(`branch ${name} is ${rec.state}; only a ready branch can be stopped`);
      await this.capture?.beforeStop(name);
      await this.provisioner.stop(name, 'fast');
      // Its last writes go to disk with this stop, not with the next create's snapshot (bench/scale:
      // after 30 stops the next snapshot waited 0.5-2.2 s for them). Before the state changes:
      // whoever sees `stopped` finds the pool committed, and the record on disk (registry copies).
      if (opts.commit !== false)
        await this.storage.commit?.().catch((e: Error) => this.log('warn', `committing the pool after stopping ${name}: ${e.message}`));
      rec.state = 'stopped';
      await this.registry.put(rec);
      return rec;
    });
  }

  async start(name: string): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (rec.state === 'ready') return rec;
      if (rec.state !== 'stopped' && rec.state !== 'failed') throw conflict(`branch ${name} is ${rec.state}`);
      await this.bringBack(rec);
      return rec;
    });
  }

  /**
   * Brings a branch with intact data back with the same port and credentials: `ready`, or `failed`
   * with the reason. Recovery uses it too; the caller holds the branch's lock.
   */
  async bringBack(rec: BranchRecord): Promise<void> {
    if (!(await this.provisioner.volumeExists(rec.name))) throw conflict(`branch ${rec.name} has no volume left; delete it`);
    try {
      assertMasked(rec); // a template not masked for the data it holds is never served
      const before = JSON.stringify(rec);
      await this.provisioner.start(rec);
      rec.state = 'ready';
      delete rec.error;
      // An adopted branch after an agent restart usually has nothing new to write (two fsyncs each).
      if (JSON.stringify(rec) !== before) await this.registry.put(rec);
    } catch (err) {
      const e = toApiError(err, `start ${rec.name}`);
      rec.state = 'failed';
      rec.error = e.message;
      await this.registry.put(rec);
      throw e;
    }
  }

  // ---------------------------------------------------------------- TTL and shutdown

  /** Deletes branches whose TTL has passed (never protected ones or ones with children). */
  async expire(now = new Date()): Promise<string[]> {
    const gone: string[] = [];
    for (const rec of this.registry.all()) {
      if (!rec.expiresAt || rec.protected || new Date(rec.expiresAt) > now) continue;
      if (rec.state === 'creating' || rec.state === 'deleting') continue;
      if (this.registry.children(rec.name).length) continue;
      try {
        await this.delete(rec.name);
        gone.push(rec.name);
        this.log('info', `expired branch ${rec.name} (TTL ended ${rec.expiresAt})`, { branch: rec.name });
      } catch (err) {
        this.log('warn', `TTL delete of ${rec.name} failed: ${(err as Error).message}`);
      }
    }
    return gone;
  }

  /** Stops every postgres (shutdown with stopBranches); records stay ready so the next start brings them back. */
  stopAll(): Promise<void> {
    return this.provisioner.stopAll(this.registry.all());
  }

  /** How far a standby `main` trails its source (null for any other branch). */
  replicationLag(rec: BranchRecord): Promise<ReplicationLag | null> {
    return this.provisioner.replicationLag(rec);
  }

  // ---------------------------------------------------------------- size

  private measureLater(name: string): void {
    // Off the request path: `btrfs filesystem du` walks extents and would add to create time.
    setTimeout(() => {
      void this.measure(name).catch(() => {});
    }, 50).unref();
  }

  /** Records the bytes only this branch holds (storage.exclusiveBytes of its record). */
  async measure(name: string): Promise<number | null> {
    return this.locks.run(name, async () => {
      const rec = this.registry.get(name);
      if (!rec || rec.state !== 'ready') return null;
      const bytes = await this.provisioner.exclusiveBytes(name);
      rec.storage.exclusiveBytes = bytes;
      await this.registry.put(rec);
      return bytes;
    });
  }

  // ---------------------------------------------------------------- helpers

  private ttlMs(ttl: string | undefined): number | null {
    if (ttl === undefined) return null;
    const ms = parseDuration(ttl);
    if (ms === null) throw badRequest(`invalid ttl "${ttl.slice(0, 40)}": use e.g. 30m, 2h, 7d`);
    return ms;
  }

  private async step(step: string, name: string): Promise<void> {
    if (this.onStep) await this.onStep(step, name);
  }
}
