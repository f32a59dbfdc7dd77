import type { StorageDriver } from '../storage/driver.ts';
import type { PostgresControl, BranchSettings } from '../postgres/instance.ts';
import type { PortAllocator } from '../postgres/ports.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { BranchRecord, Registry } from '../branches/registry.ts';
import type { KeyedLock } from '../branches/locks.ts';
import type { LogFn } from '../logger.ts';
import { adminTarget, refuseAllSuperusers, rotateCredentials, waitForLogin } from './credentials.ts';
import type { OpenUp } from './credentials.ts';
import { OWNER_ROLE } from '../postgres/roles.ts';
import { snapshotBranch } from './snapshot.ts';
import { replicationLag } from './replication.ts';
import type { ReplicationLag } from './replication.ts';
import { classifyFailure, PortTakenError } from './failures.ts';
import { insufficientStorage } from '../../core/errors.ts';
import type { Capture } from '../capture/capture.ts';
import { PhaseClock } from './phases.ts';
import type { Phases } from './phases.ts';

/** Test seam: runs between steps of a create so a crash can be injected at a known point. */
export type StepHook = (step: string, name: string) => Promise<void> | void;

/** Runs on a started branch before TCP logins are let in (a template's masking). */
export type Prepare = (rec: BranchRecord) => Promise<void>;

/** Called after a branch moved to another port, so the new port is persisted before anything else happens. */
export type PortMoved = (rec: BranchRecord) => Promise<void>;

/** postgres settings every branch gets. */
export interface ClusterDefaults {
  pgListen: string;
  sharedBuffers: string;
  maxConnections: number;
  workMem: string;
}

export interface ProvisionerParts {
  storage: StorageDriver;
  pg: PostgresControl;
  ports: PortAllocator;
  pgUser: OsUser | null;
  /** Read only here: the ports the branches' records hold. */
  registry: Registry;
  /** `snap:<parent>`: a parent is not snapshotted while the root builder swaps it. */
  locks: KeyedLock;
  cluster: ClusterDefaults;
  /** Refuse creates when the pool has less free space than this. */
  minFreeBytes: number;
  log: LogFn;
  onStep?: StepHook;
  /** Change capture, installed in every ordinary branch before TCP logins are let in. */
  capture?: Pick<Capture, 'wants' | 'install'>;
}

const PORT_ATTEMPTS = 3;

/**
 * How a branch comes to life and goes away: its volume (snapshot or backup-mode copy), its port,
 * its postgres process, its credentials. Knows nothing of branch states: the caller (the branch
 * manager) decides what a step means and records it.
 */
export class Provisioner {
  private readonly parts: ProvisionerParts;

  constructor(parts: ProvisionerParts) {
    this.parts = parts;
  }

  // ---------------------------------------------------------------- space and ports

  async assertRoom(): Promise<void> {
    const { storage } = this.parts;
    const need = this.parts.minFreeBytes;
    let { freeBytes } = await storage.usage();
    // Deleted volumes btrfs has not freed yet (the trash, the cleaner): free them before saying full.
    if (freeBytes < need && storage.settle) {
      await storage.settle();
      ({ freeBytes } = await storage.usage());
    }
    if (freeBytes < need) {
      throw insufficientStorage(
        `the storage pool is full: ${Math.round(freeBytes / 1048576)} MiB free, need at least ${Math.round(need / 1048576)} MiB: delete branches or grow the pool`,
      );
    }
  }

  /** A port free on the host and held by no branch record; reserved until `releasePort`. */
  allocatePort(alsoTaken: number[] = []): Promise<number> {
    return this.parts.ports.allocate([...this.takenPorts(), ...alsoTaken], '127.0.0.1');
  }

  releasePort(port: number): void {
    this.parts.ports.release(port);
  }

  private takenPorts(): number[] {
    return this.parts.registry.ports();
  }

  /** The major version of the PostgreSQL the branches run. */
  postgresMajor(): number {
    return this.parts.pg.bins.major;
  }

  settings(rec: BranchRecord): BranchSettings {
    const c = this.parts.cluster;
    return {
      name: rec.name,
      port: rec.port,
      listen: c.pgListen,
      sharedBuffers: c.sharedBuffers,
      maxConnections: c.maxConnections,
      workMem: c.workMem,
    };
  }

  // ---------------------------------------------------------------- coming to life

  /**
   * Snapshots the parent into the child's volume, fixes it up, starts it and rotates its credentials.
   * The port was free when allocated, but anything may bind it before postgres does: then it all
   * starts again on the next free port instead of failing.
   */
  async materializeOnFreePort(rec: BranchRecord, parent: BranchRecord, onPortMoved: PortMoved, prepare?: Prepare): Promise<Phases> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.materialize(rec, parent, prepare);
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
        await this.parts.pg.stop(this.volumePath(rec.name), 'immediate').catch(() => {});
        await this.parts.storage.destroy(rec.name);
        await this.moveToFreePort(rec, onPortMoved);
      }
    }
  }

  /**
   * The same on the record's own port, which it keeps (a reset: connection strings stay valid).
   * `prepare` runs while TCP logins are still refused.
   */
  async materialize(rec: BranchRecord, parent: BranchRecord, prepare?: Prepare): Promise<Phases> {
    const { pg, locks } = this.parts;
    const clock = new PhaseClock();
    await locks.run(`snap:${parent.name}`, () => {
      clock.mark('queue');
      return snapshotBranch(this.parts, parent, rec.name, clock);
    });
    await this.step('snapshotted', rec.name);
    const dir = this.volumePath(rec.name);
    await pg.clearRuntimeFiles(dir);
    await pg.configure(dir, this.settings(rec));
    await pg.writeHba(dir, { superuser: rec.superuser, open: false });
    clock.mark('configure');
    await this.startPostgres(rec.name, dir);
    clock.mark('start');
    await this.step('started', rec.name);
    // Change capture goes in beside the credentials' work (its slot creation mostly waits on WAL
    // flushes) and is awaited before TCP opens: the first client change is caught.
    // Not with a `prepare` (a template's masking): a slot or an open install would keep the unmasked
    // row versions alive past the scrub, and the log would hold them.
    const capture = !prepare && this.parts.capture?.wants(rec) ? this.parts.capture : null;
    const installing = capture ? capture.install(rec) : Promise.resolve();
    installing.catch(() => {}); // awaited below
    try {
      if (prepare) await prepare(rec);
      // A reset of a branch made before owner roles existed moves it onto one.
      rec.user = OWNER_ROLE;
      const open = this.openUp(rec, dir);
      const openUp: OpenUp = async (superusers) => {
        clock.mark('credentials');
        await installing;
        clock.mark('capture');
        await open(superusers);
      };
      // A promoted standby still has its source's owners: the owner role takes their objects over.
      await rotateCredentials(this.parts.pg, adminTarget(rec), rec, openUp, { takeOwnership: parent.standby === true });
    } finally {
      await installing.catch(() => {}); // a failed create is undone only once capture stopped touching it
    }
    clock.mark('open');
    await this.waitForLogin(rec);
    clock.mark('login');
    return clock.phases;
  }

  /** An empty cluster (initdb) in a new volume: the `main` of a first start. */
  async initEmpty(rec: BranchRecord, onPortMoved: PortMoved): Promise<void> {
    const { pg, storage } = this.parts;
    const dir = await storage.createVolume(rec.name, this.parts.pgUser);
    await pg.initdb(dir);
    await storage.prepareData?.(dir);
    await this.startOnFreePort(rec, dir, onPortMoved);
    await this.rotateCredentials(rec, dir);
    await this.waitForLogin(rec);
  }

  /** Configures and starts the cluster in `dir`; if its port was taken meanwhile, moves to the next free one. */
  async startOnFreePort(rec: BranchRecord, dir: string, onPortMoved: PortMoved, opts: { standby?: boolean } = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.parts.pg.configure(dir, this.settings(rec), opts);
      try {
        return await this.startPostgres(rec.name, dir);
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
        await this.moveToFreePort(rec, onPortMoved);
      }
    }
  }

  /** Gives up a port someone else bound: its socket dir goes, the next free port is recorded. */
  private async moveToFreePort(rec: BranchRecord, onPortMoved: PortMoved): Promise<void> {
    const old = rec.port;
    await this.parts.pg.removeSocketDir(old);
    rec.port = await this.allocatePort([old]);
    this.releasePort(old);
    this.parts.log('warn', `port ${old} was taken before branch ${rec.name} could bind it; using ${rec.port}`);
    await onPortMoved(rec);
  }

  private async startPostgres(name: string, dir: string): Promise<void> {
    try {
      await this.parts.pg.start(name, dir);
    } catch (err) {
      throw classifyFailure(err);
    }
  }

  /** The owner role in place, fresh passwords for every login role, then TCP logins let in. */
  rotateCredentials(rec: BranchRecord, dir: string, opts: { takeOwnership?: boolean } = {}): Promise<void> {
    return rotateCredentials(this.parts.pg, adminTarget(rec), rec, this.openUp(rec, dir), opts);
  }

  /** Writes the open pg_hba.conf of a branch, refusing these superusers over TCP. */
  openUp(rec: BranchRecord, dir: string): OpenUp {
    return (superusers) => this.parts.pg.writeHba(dir, { superuser: rec.superuser, superusers, open: true });
  }

  /** After a start with only the bootstrap superuser named in pg_hba.conf: refuse every superuser over TCP. */
  refuseAllSuperusers(rec: BranchRecord, dir: string): Promise<void> {
    return refuseAllSuperusers(this.parts.pg, adminTarget(rec), this.openUp(rec, dir));
  }

  /**
   * Ready means a password login over TCP works. A standby's roles are its source's (no password of
   * ours, maybe none at all): it is ready when the agent gets in over its own socket.
   */
  waitForLogin(rec: BranchRecord): Promise<void> {
    if (rec.standby) return this.waitForSocket(rec);
    return waitForLogin(rec, this.parts.cluster.pgListen);
  }

  private async waitForSocket(rec: BranchRecord, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.parts.pg.withClient(adminTarget(rec), (c) => c.query('SELECT 1'));
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`standby ${rec.name} started but refuses the agent: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Brings a branch with intact data back with the same port and credentials (adopts a running postmaster). */
  async start(rec: BranchRecord): Promise<void> {
    const { pg } = this.parts;
    const dir = this.volumePath(rec.name);
    if (!(await pg.pid(dir))) {
      await pg.configure(dir, this.settings(rec), { standby: rec.standby });
      // Rewritten on every start: a branch made before this agent version had `trust` lines.
      await pg.writeHba(dir, { superuser: rec.superuser, open: true });
      await pg.start(rec.name, dir);
      await this.refuseAllSuperusers(rec, dir);
    }
    if (!rec.standby && rec.user !== OWNER_ROLE) {
      // Made before branches had owner roles: it handed out the superuser. Same password, new role.
      rec.user = OWNER_ROLE;
      await this.rotateCredentials(rec, dir, { takeOwnership: true });
    }
    await this.waitForLogin(rec);
  }

  /** A volume of this name exists (made by someone, or kept from an unreadable record). */
  volumeExists(name: string): Promise<boolean> {
    return this.parts.storage.exists(name);
  }

  // ---------------------------------------------------------------- going away

  stop(name: string, mode: 'fast' | 'immediate'): Promise<void> {
    return this.parts.pg.stop(this.volumePath(name), mode);
  }

  /** Stops postgres if it runs, ignoring failures (it may never have started). */
  async stopQuietly(name: string): Promise<void> {
    await this.stop(name, 'immediate').catch(() => {});
  }

  /** Postgres stopped and the volume gone, the record's port and socket dir kept (a reset). */
  async wipe(name: string): Promise<void> {
    await this.stop(name, 'immediate');
    await this.parts.storage.destroy(name);
  }

  /** Undoes a create that failed part way: whatever of the branch exists goes. */
  async discard(rec: BranchRecord): Promise<void> {
    await this.stopQuietly(rec.name);
    await this.dropVolume(rec);
  }

  /** Volume and socket dir of a branch whose postgres no longer runs; a failure to destroy is logged. */
  async dropVolume(rec: BranchRecord): Promise<void> {
    await this.parts.storage.destroy(rec.name).catch((e) => this.parts.log('error', `cleanup of ${rec.name}: ${(e as Error).message}`));
    await this.parts.pg.removeSocketDir(rec.port);
  }

  /** A deleted branch: postgres, volume, socket dir and log all gone. */
  async destroy(rec: BranchRecord): Promise<void> {
    await this.stop(rec.name, 'immediate');
    await this.parts.storage.destroy(rec.name);
    await this.parts.pg.removeSocketDir(rec.port);
    await this.parts.pg.removeLog(rec.name);
  }

  /** Stops every postgres (shutdown with stopBranches). */
  async stopAll(records: BranchRecord[]): Promise<void> {
    for (const rec of records) {
      await this.stop(rec.name, 'fast').catch((e) => this.parts.log('warn', `could not stop branch ${rec.name}: ${(e as Error).message}`));
    }
  }

  // ---------------------------------------------------------------- measuring and explaining

  /** What a failed create leaves to explain it: postgres' log, and a note when the pool is (next to) full. */
  async failureContext(name: string): Promise<string> {
    const usage = await this.parts.storage.usage().catch(() => null);
    const full = usage !== null && usage.freeBytes < 8 * 1024 * 1024;
    return (await this.parts.pg.logTail(name)) + (full ? '\nNo space left on device (pool)' : '');
  }

  /** Bytes only this branch's volume holds (what the clone really cost). */
  exclusiveBytes(name: string): Promise<number | null> {
    return this.parts.storage.exclusiveBytes(name);
  }

  replicationLag(rec: BranchRecord): Promise<ReplicationLag | null> {
    return replicationLag(this.parts.pg, rec);
  }

  // ---------------------------------------------------------------- after a crash

  async isRunning(name: string): Promise<boolean> {
    return (await this.parts.pg.pid(this.volumePath(name))) !== null;
  }

  private volumePath(name: string): string {
    return this.parts.storage.volumePath(name);
  }

  private async step(step: string, name: string): Promise<void> {
    if (this.parts.onStep) await this.parts.onStep(step, name);
  }
}
