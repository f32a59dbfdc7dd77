import { readdir, rm, writeFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '../storage/driver.ts';
import type { Runner } from '../runner.ts';
import type { PostgresControl, BranchSettings } from '../postgres/instance.ts';
import { PostgresStartError, SUPERUSER } from '../postgres/instance.ts';
import type { PortAllocator } from '../postgres/ports.ts';
import type { OsUser } from '../postgres/os-user.ts';
import { generatePassword } from '../postgres/scram.ts';
import type { BranchRecord, Registry } from './registry.ts';
import { KeyedLock } from './locks.ts';
import { rotateCredentials, waitForLogin } from './credentials.ts';
import { recoverBranches } from './recovery.ts';
import type { RecoveryReport } from './recovery.ts';
import { VelaError, badRequest, conflict, notFound, insufficientStorage } from '../../core/errors.ts';
import { branchNameProblem, ROOT_BRANCH } from '../../core/names.ts';
import { parseDuration } from '../../core/durations.ts';

export interface BranchDefaults {
  publicHost: string;
  pgListen: string;
  sharedBuffers: string;
  maxConnections: number;
  workMem: string;
  defaultTtl: string | null;
  /** Refuse creates when the pool has less free space than this. */
  minFreeBytes: number;
}

export interface ManagerDeps {
  storage: StorageDriver;
  runner: Runner;
  pg: PostgresControl;
  registry: Registry;
  ports: PortAllocator;
  pgUser: OsUser | null;
  defaults: BranchDefaults;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Test seam: runs between steps of a create so a crash can be injected at a known point. */
  onStep?: (step: string, name: string) => Promise<void> | void;
}

export interface CreateRequest {
  name: string;
  parent?: string;
  ttl?: string;
  labels?: Record<string, string>;
  ifExists?: 'return' | 'fail';
}

export { ROOT_BRANCH };

/**
 * Owns the branch lifecycle: snapshot, fix-ups, start, credentials, reset, delete, TTL.
 * Every state change is persisted before the step it announces, so recovery knows what to undo.
 */
export class BranchManager {
  private readonly d: ManagerDeps;
  /** Internal: shared with the root builder. */
  readonly locks = new KeyedLock();

  constructor(deps: ManagerDeps) {
    this.d = deps;
  }

  get storage(): StorageDriver {
    return this.d.storage;
  }

  /** Internal: the root builder works with the same parts. */
  get deps(): ManagerDeps {
    return this.d;
  }

  list(): BranchRecord[] {
    return this.d.registry.all();
  }

  get(name: string): BranchRecord {
    const rec = this.d.registry.get(name);
    if (!rec) throw notFound(`branch ${name} does not exist`);
    return rec;
  }

  find(name: string): BranchRecord | undefined {
    return this.d.registry.get(name);
  }

  // ---------------------------------------------------------------- create

  /**
   * `prepare` runs on the started branch before it is marked ready (nobody can branch from it or
   * get its credentials yet): how masked templates scrub their data.
   */
  async create(
    req: CreateRequest,
    hooks: { prepare?: (rec: BranchRecord) => Promise<void> } = {},
  ): Promise<{ record: BranchRecord; created: boolean }> {
    const problem = branchNameProblem(req.name);
    if (problem) throw badRequest(problem);
    const parentName = req.parent ?? ROOT_BRANCH;
    const ttlMs = this.ttlMs(req.ttl ?? this.d.defaults.defaultTtl ?? undefined);
    return this.locks.run(req.name, async () => {
      const existing = this.d.registry.get(req.name);
      if (existing) {
        if ((req.ifExists ?? 'fail') === 'return' && existing.parent === parentName && existing.state !== 'failed') {
          return { record: existing, created: false };
        }
        throw conflict(`branch ${req.name} already exists (parent ${existing.parent ?? '-'}, state ${existing.state})`);
      }
      const parent = this.d.registry.get(parentName);
      if (!parent) throw notFound(`parent branch ${parentName} does not exist`);
      if (parent.state !== 'ready' && parent.state !== 'stopped') {
        throw conflict(`parent branch ${parentName} is ${parent.state}; only a ready or stopped branch can be branched`);
      }
      await this.assertRoom();
      const started = performance.now();
      const now = new Date();
      const port = await this.d.ports.allocate(this.takenPorts(), '127.0.0.1');
      const rec: BranchRecord = {
        name: req.name,
        parent: parentName,
        state: 'creating',
        port,
        database: parent.database,
        // A standby's login is its source's (often a replication role): branches get its superuser.
        user: parent.standby ? (parent.superuser ?? SUPERUSER) : parent.user,
        superuser: parent.superuser,
        password: generatePassword(),
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
        expiresAt: ttlMs ? new Date(now.getTime() + ttlMs).toISOString() : null,
        protected: false,
        labels: req.labels ?? {},
        storage: { driver: this.d.storage.kind, exclusiveBytes: null },
        timings: { createMs: null },
      };
      try {
        await this.d.registry.put(rec);
        await this.step('registered', rec.name);
        await this.materializeOnFreePort(rec, parent);
        if (hooks.prepare) await hooks.prepare(rec);
        rec.state = 'ready';
        rec.timings.createMs = Math.round(performance.now() - started);
        await this.d.registry.put(rec);
      } catch (err) {
        const tail = (await this.d.pg.logTail(rec.name)) + ((await this.poolExhausted()) ? '\nNo space left on device (pool)' : '');
        await this.undoCreate(rec);
        throw this.explain(err, `create ${rec.name}`, tail);
      } finally {
        this.d.ports.release(port);
        this.d.ports.release(rec.port);
      }
      this.d.log('info', `created branch ${rec.name} from ${parentName} in ${rec.timings.createMs} ms`, {
        branch: rec.name,
        parent: parentName,
        port,
        createMs: rec.timings.createMs,
      });
      this.measureLater(rec.name);
      return { record: rec, created: true };
    });
  }

  /**
   * The port was free when allocated, but another process (another agent, anything) may bind it
   * before postgres does: then start again on the next free port instead of failing the create.
   */
  private async materializeOnFreePort(rec: BranchRecord, parent: BranchRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.materialize(rec, parent);
      } catch (err) {
        if (!portTaken(err) || attempt >= 3) throw err;
        const dir = this.d.storage.volumePath(rec.name);
        await this.d.pg.stop(dir, 'immediate').catch(() => {});
        await this.d.storage.destroy(rec.name);
        await this.moveToFreePort(rec);
      }
    }
  }

  /** Configures and starts a fresh cluster, moving to another port if its port was taken meanwhile. */
  private async startOnFreePort(rec: BranchRecord, dir: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.d.pg.configure(dir, this.settings(rec));
      try {
        return await this.d.pg.start(rec.name, dir);
      } catch (err) {
        if (!portTaken(err) || attempt >= 3) throw err;
        await this.moveToFreePort(rec);
      }
    }
  }

  /** Gives up a port someone else bound: its socket dir goes, the next free port is recorded. */
  private async moveToFreePort(rec: BranchRecord): Promise<void> {
    const old = rec.port;
    await rm(this.d.pg.socketDir(old), { recursive: true, force: true });
    rec.port = await this.d.ports.allocate([...this.takenPorts(), old], '127.0.0.1');
    this.d.ports.release(old);
    this.d.log('warn', `port ${old} was taken before branch ${rec.name} could bind it; using ${rec.port}`);
    await this.d.registry.put(rec);
  }

  /** Snapshot the parent into the child's volume, fix it up, start it, rotate its credentials. */
  private async materialize(rec: BranchRecord, parent: BranchRecord): Promise<void> {
    await this.locks.run(`snap:${parent.name}`, () => this.snapshotFrom(parent, rec.name));
    await this.step('snapshotted', rec.name);
    const dir = this.d.storage.volumePath(rec.name);
    await this.d.pg.clearRuntimeFiles(dir);
    await this.d.pg.configure(dir, this.settings(rec));
    await this.d.pg.writeHba(dir, false);
    await this.d.pg.start(rec.name, dir);
    await this.step('started', rec.name);
    await this.rotateCredentials(rec, () => this.d.pg.writeHba(dir, true));
    await this.waitForLogin(rec);
  }

  private async snapshotFrom(parent: BranchRecord, child: string): Promise<void> {
    const parentDir = this.d.storage.volumePath(parent.name);
    const tablespaces = await readdir(join(parentDir, 'pg_tblspc')).catch(() => []);
    if (tablespaces.length > 0) {
      throw conflict(`branch ${parent.name} uses tablespaces outside its data directory; vela-branch cannot snapshot those`);
    }
    const running = (await this.d.pg.pid(parentDir)) !== null;
    if (this.d.storage.atomic || !running) {
      // Atomic over the whole data dir including pg_wal: the child starts with a short crash recovery.
      if (running) await this.d.pg.withClient(admin(parent), (c) => c.query('CHECKPOINT'));
      await this.d.storage.snapshot(parent.name, child);
      return;
    }
    await this.backupCopy(parent, child);
  }

  /** Per-file clones of a running parent are only consistent inside pg_backup_start/stop plus backup_label. */
  private async backupCopy(parent: BranchRecord, child: string): Promise<void> {
    if (this.d.pg.bins.major < 15) throw conflict('reflink and copy storage need PostgreSQL 15 or newer for a running parent');
    await this.d.pg.withClient(admin(parent), async (c) => {
      await c.query('SELECT pg_backup_start($1, true)', [`vela-${child}`]);
      let stopped: { labelfile: string; spcmapfile: string | null } | undefined;
      try {
        await this.d.storage.snapshot(parent.name, child, { skip: ['pg_wal'] });
      } finally {
        const r = await c.query<{ labelfile: string; spcmapfile: string | null }>(
          'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
        );
        stopped = r.rows[0];
      }
      // WAL copied after pg_backup_stop holds everything the child needs to reach consistency.
      await this.d.storage.copyEntry!(parent.name, child, 'pg_wal');
      const dir = this.d.storage.volumePath(child);
      await this.writeOwned(join(dir, 'backup_label'), stopped.labelfile);
      if (stopped.spcmapfile) await this.writeOwned(join(dir, 'tablespace_map'), stopped.spcmapfile);
    });
  }

  private async writeOwned(path: string, text: string): Promise<void> {
    await writeFile(path, text, { mode: 0o600 });
    if (this.d.pgUser) await chown(path, this.d.pgUser.uid, this.d.pgUser.gid);
  }

  /** Internal (also the root builder): fresh passwords for every login role, then TCP opened. */
  rotateCredentials(rec: BranchRecord, openUp: () => Promise<void>): Promise<void> {
    return rotateCredentials(this.d.pg, admin(rec), rec, openUp);
  }

  /** Internal (also the root builder): ready means a password login over TCP works. */
  waitForLogin(rec: BranchRecord): Promise<void> {
    return waitForLogin(rec, this.d.defaults.pgListen);
  }

  private async undoCreate(rec: BranchRecord): Promise<void> {
    const dir = this.d.storage.volumePath(rec.name);
    await this.d.pg.stop(dir, 'immediate').catch(() => {});
    await this.d.storage.destroy(rec.name).catch((e) => this.d.log('error', `cleanup of ${rec.name}: ${(e as Error).message}`));
    await rm(this.d.pg.socketDir(rec.port), { recursive: true, force: true });
    await this.d.registry.remove(rec.name);
  }

  // ---------------------------------------------------------------- root branch

  /** Creates an empty `main` (initdb) when the pool has none. */
  async ensureRoot(): Promise<BranchRecord | null> {
    if (this.d.registry.get(ROOT_BRANCH)) return null;
    return this.locks.run(ROOT_BRANCH, () => this.initRoot());
  }

  /** Seeds, imports and replicas are the root builder's job; this is the empty `main` of a first start. */
  private async initRoot(): Promise<BranchRecord> {
    const started = performance.now();
    const now = new Date().toISOString();
    const port = await this.d.ports.allocate(this.takenPorts(), '127.0.0.1');
    const rec: BranchRecord = {
      name: ROOT_BRANCH,
      parent: null,
      state: 'creating',
      port,
      database: 'postgres',
      user: SUPERUSER,
      password: generatePassword(),
      createdAt: now,
      updatedAt: now,
      expiresAt: null,
      protected: true,
      labels: {},
      storage: { driver: this.d.storage.kind, exclusiveBytes: null },
      timings: { createMs: null },
    };
    try {
      await this.d.registry.put(rec);
      const dir = await this.d.storage.createVolume(ROOT_BRANCH, this.d.pgUser);
      await this.d.pg.initdb(dir);
      await this.d.pg.writeHba(dir, false);
      await this.startOnFreePort(rec, dir);
      await this.rotateCredentials(rec, () => this.d.pg.writeHba(dir, true));
      await this.waitForLogin(rec);
      rec.state = 'ready';
      rec.timings.createMs = Math.round(performance.now() - started);
      await this.d.registry.put(rec);
    } catch (err) {
      await this.undoCreate(rec);
      throw this.explain(err, 'initialise main');
    } finally {
      this.d.ports.release(port);
      this.d.ports.release(rec.port);
    }
    this.d.log('info', `initialised root branch main (PostgreSQL ${this.d.pg.bins.major}) in ${rec.timings.createMs} ms`);
    return rec;
  }

  // ---------------------------------------------------------------- reset

  async reset(name: string, opts: { force?: boolean; prepare?: (rec: BranchRecord) => Promise<void> } = {}): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (!rec.parent) throw conflict(`branch ${name} has no parent to reset from`);
      if (rec.protected && !opts.force) throw conflict(`branch ${name} is protected: reset needs force (and an admin token)`);
      if (this.d.registry.children(name).length > 0 && this.d.storage.kind === 'zfs') {
        throw conflict(`branch ${name} has children; on ZFS delete them before resetting it`);
      }
      const parent = this.get(rec.parent);
      if (parent.state !== 'ready' && parent.state !== 'stopped') throw conflict(`parent branch ${parent.name} is ${parent.state}`);
      const started = performance.now();
      const dir = this.d.storage.volumePath(name);
      rec.state = 'creating';
      rec.resetting = true;
      await this.d.registry.put(rec);
      try {
        await this.d.pg.stop(dir, 'immediate');
        await this.d.storage.destroy(name);
        await this.materialize(rec, parent);
        if (opts.prepare) await opts.prepare(rec);
        rec.state = 'ready';
        delete rec.error;
        delete rec.resetting;
        rec.timings.resetMs = Math.round(performance.now() - started);
        await this.d.registry.put(rec);
      } catch (err) {
        const e = this.explain(err, `reset ${name}`);
        await this.d.pg.stop(dir, 'immediate').catch(() => {});
        rec.state = 'failed';
        rec.error = e.message;
        delete rec.resetting;
        await this.d.registry.put(rec);
        throw e;
      }
      this.d.log('info', `reset branch ${name} from ${parent.name} in ${rec.timings.resetMs} ms`, { branch: name });
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
      for (const child of this.d.registry.children(name))
        deleted.push(...(await this.delete(child.name, { cascade: true, force: opts.force })));
    }
    await this.locks.run(name, async () => {
      const current = this.get(name);
      const children = this.d.registry.children(name).map((c) => c.name);
      if (children.length)
        throw conflict(`branch ${name} has children (${children.join(', ')}): delete them first or pass cascade`, { children });
      current.state = 'deleting';
      await this.d.registry.put(current);
      await this.destroyVolume(current);
      await this.d.registry.remove(name);
    });
    this.d.log('info', `deleted branch ${name}`, { branch: name });
    deleted.push(name);
    return deleted;
  }

  private async destroyVolume(rec: BranchRecord): Promise<void> {
    const dir = this.d.storage.volumePath(rec.name);
    await this.d.pg.stop(dir, 'immediate');
    await this.d.storage.destroy(rec.name);
    await rm(this.d.pg.socketDir(rec.port), { recursive: true, force: true });
    await rm(this.d.pg.logFile(rec.name), { force: true });
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
      await this.d.registry.put(rec);
      return rec;
    });
  }

  async stop(name: string): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (rec.state !== 'ready') throw conflict(`branch ${name} is ${rec.state}; only a ready branch can be stopped`);
      await this.d.pg.stop(this.d.storage.volumePath(name), 'fast');
      rec.state = 'stopped';
      await this.d.registry.put(rec);
      return rec;
    });
  }

  async start(name: string): Promise<BranchRecord> {
    return this.locks.run(name, async () => {
      const rec = this.get(name);
      if (rec.state === 'ready') return rec;
      if (rec.state !== 'stopped' && rec.state !== 'failed') throw conflict(`branch ${name} is ${rec.state}`);
      await this.startExisting(rec);
      return rec;
    });
  }

  /** Internal (also recovery): brings a branch with intact data back with the same port and credentials. */
  async startExisting(rec: BranchRecord): Promise<void> {
    const dir = this.d.storage.volumePath(rec.name);
    if (!(await this.d.storage.exists(rec.name))) throw conflict(`branch ${rec.name} has no volume left; delete it`);
    try {
      if (!(await this.d.pg.pid(dir))) {
        await this.d.pg.configure(dir, this.settings(rec), { standby: rec.standby });
        await this.d.pg.start(rec.name, dir);
      }
      await this.waitForLogin(rec);
      rec.state = 'ready';
      delete rec.error;
      await this.d.registry.put(rec);
    } catch (err) {
      const e = this.explain(err, `start ${rec.name}`);
      rec.state = 'failed';
      rec.error = e.message;
      await this.d.registry.put(rec);
      throw e;
    }
  }

  // ---------------------------------------------------------------- recovery and TTL

  /** After a crash or restart (see recovery.ts). */
  recover(): Promise<RecoveryReport> {
    return recoverBranches(this);
  }

  /** Deletes branches whose TTL has passed (never protected ones or ones with children). */
  async expire(now = new Date()): Promise<string[]> {
    const gone: string[] = [];
    for (const rec of this.d.registry.all()) {
      if (!rec.expiresAt || rec.protected || new Date(rec.expiresAt) > now) continue;
      if (rec.state === 'creating' || rec.state === 'deleting') continue;
      if (this.d.registry.children(rec.name).length) continue;
      try {
        await this.delete(rec.name);
        gone.push(rec.name);
        this.d.log('info', `expired branch ${rec.name} (TTL ended ${rec.expiresAt})`, { branch: rec.name });
      } catch (err) {
        this.d.log('warn', `TTL delete of ${rec.name} failed: ${(err as Error).message}`);
      }
    }
    return gone;
  }

  /** Stops every postgres (shutdown with stopBranches); records stay ready so the next start brings them back. */
  async stopAll(): Promise<void> {
    for (const rec of this.d.registry.all()) {
      await this.d.pg
        .stop(this.d.storage.volumePath(rec.name), 'fast')
        .catch((e) => this.d.log('warn', `could not stop branch ${rec.name}: ${(e as Error).message}`));
    }
  }

  /** How far a standby `main` trails its source: WAL received but not replayed, and age of the last replayed commit. */
  async replicationLag(rec: BranchRecord): Promise<{ lagBytes: number | null; lagSeconds: number | null } | null> {
    if (!rec.standby || rec.state !== 'ready') return null;
    return this.d.pg
      .withClient(admin(rec), async (c) => {
        const r = await c.query<{ b: string | null; s: string | null }>(
          'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS b, EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()) AS s',
        );
        const row = r.rows[0];
        return { lagBytes: row.b === null ? null : Number(row.b), lagSeconds: row.s === null ? null : Math.max(0, Number(row.s)) };
      })
      .catch(() => ({ lagBytes: null, lagSeconds: null }));
  }

  // ---------------------------------------------------------------- helpers

  settings(rec: BranchRecord): BranchSettings {
    const d = this.d.defaults;
    return {
      name: rec.name,
      port: rec.port,
      listen: d.pgListen,
      sharedBuffers: d.sharedBuffers,
      maxConnections: d.maxConnections,
      workMem: d.workMem,
    };
  }

  takenPorts(): number[] {
    return this.d.registry.all().map((r) => r.port);
  }

  private ttlMs(ttl: string | undefined): number | null {
    if (ttl === undefined) return null;
    const ms = parseDuration(ttl);
    if (ms === null) throw badRequest(`invalid ttl "${ttl.slice(0, 40)}": use e.g. 30m, 2h, 7d`);
    return ms;
  }

  /** True when the pool has (next to) nothing left: then any failure of a create is the pool's doing. */
  private async poolExhausted(): Promise<boolean> {
    const u = await this.d.storage.usage().catch(() => null);
    return u !== null && u.freeBytes < 8 * 1024 * 1024;
  }

  private async assertRoom(): Promise<void> {
    const { freeBytes } = await this.d.storage.usage();
    if (freeBytes < this.d.defaults.minFreeBytes) {
      throw insufficientStorage(
        `the storage pool is full: ${Math.round(freeBytes / 1048576)} MiB free, need at least ${Math.round(this.d.defaults.minFreeBytes / 1048576)} MiB: delete branches or grow the pool`,
      );
    }
  }

  /** Turns low-level failures into one clear error that names the cause. */
  explain(err: unknown, what: string, logTail = ''): VelaError {
    if (err instanceof VelaError) return err;
    const msg = (err as Error).message ?? String(err);
    // A postgres that hit ENOSPC after it started dies with it in its log, not in our error.
    if (/No space left|ENOSPC|could not extend file|disk full/i.test(`${msg}\n${logTail}`)) {
      return insufficientStorage(`${what}: the storage pool is full (no space left on device): delete branches or grow the pool`);
    }
    if (err instanceof PostgresStartError) return new VelaError('postgres_start_failed', 500, `${what}: ${err.message}`);
    return new VelaError('internal', 500, `${what} failed: ${msg}`);
  }

  private async step(step: string, name: string): Promise<void> {
    if (this.d.onStep) await this.d.onStep(step, name);
  }

  private measureLater(name: string): void {
    // Off the request path: `btrfs filesystem du` walks extents and would add to create time.
    setTimeout(() => {
      void this.measure(name).catch(() => {});
    }, 50).unref();
  }

  async measure(name: string): Promise<number | null> {
    return this.locks.run(name, async () => {
      const rec = this.d.registry.get(name);
      if (!rec || rec.state !== 'ready') return null;
      const bytes = await this.d.storage.exclusiveBytes(name);
      rec.storage.exclusiveBytes = bytes;
      await this.d.registry.put(rec);
      return bytes;
    });
  }
}

/** postgres could not bind its port (someone took it after we checked it was free). */
function portTaken(err: unknown): boolean {
  return (
    err instanceof PostgresStartError &&
    /could not bind|already in use|could not create any TCP\/IP sockets/i.test(`${err.message}\n${err.logTail}`)
  );
}

/** Where the agent's superuser SQL for a branch goes. */
export function admin(rec: BranchRecord): { port: number; superuser?: string } {
  return { port: rec.port, superuser: rec.superuser };
}
