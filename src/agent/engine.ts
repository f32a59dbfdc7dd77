import { mkdir, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StorageKind } from '../core/api/index.ts';
import { loadConfig } from './config.ts';
import type { AgentConfig } from './config.ts';
import type { Runner } from './runner.ts';
import { processRunner } from './runner.ts';
import { resolveBinaries, shareEmbeddedBinaries } from './postgres/binaries.ts';
import { resolvePostgresUser, assertReachable, isReachable } from './postgres/os-user.ts';
import { PostgresControl, socketRootFor } from './postgres/instance.ts';
import { PortAllocator } from './postgres/ports.ts';
import { ensurePostgresTls } from './postgres/tls.ts';
import type { PostgresTls } from './postgres/tls.ts';
import { openStorage } from './storage/select.ts';
import type { StorageDriver } from './storage/driver.ts';
import { Registry } from './branches/registry.ts';
import { KeyedLock } from './branches/locks.ts';
import { BranchManager } from './branches/manager.ts';
import { BranchRecovery } from './branches/recovery.ts';
import { RootBuilder } from './branches/root-builder.ts';
import { BranchRebaser } from './branches/rebase.ts';
import type { RebaseCapture } from './branches/rebase.ts';
import { doctorReport } from './branches/doctor.ts';
import type { DoctorReport } from './branches/doctor.ts';
import type { Template } from './branches/root-builder.ts';
import { Provisioner } from './provisioner/provisioner.ts';
import type { StepHook } from './provisioner/provisioner.ts';
import { CrashLeftovers } from './provisioner/leftovers.ts';
import { Lifecycle } from './lifecycle/lifecycle.ts';
import { clientCount } from './lifecycle/clients.ts';
import { branchMemoryEstimate, runningLimit } from './lifecycle/policy.ts';
import type { LifecyclePolicy } from './lifecycle/policy.ts';
import { BranchDiffer } from './diff/branch-diff.ts';
import type { LogFn } from './logger.ts';
import { Capture } from './capture/capture.ts';

export type { LogFn };

export interface EngineOptions {
  dataDir: string;
  storage: StorageKind | 'auto';
  pgBin: string | null;
  pgUser: string;
  pgListen: string;
  /** Host clients use for branch postgres: the server certificate's SAN (default 127.0.0.1). */
  publicHost?: string;
  ports: { from: number; to: number };
  /** `quota`: bytes each branch may write beyond its parent (null = none; applied by the storage driver). */
  branch: { sharedBuffers: string; maxConnections: number; workMem: string; defaultTtl: string | null; quota?: number | null };
  pool: { image: string | null; sizeGiB: number };
  zfs: { dataset: string | null };
  minFreeBytes?: number;
  /** Stop branches with no client connection this long (null = never). */
  idle?: { suspendAfterMs: number | null };
  /** Running branches at most, and the memory they may take by estimate (null = no limit). */
  capacity?: { maxRunning: number | null; memoryBudget: number | null };
  /** Create an empty `main` when there is none (the default on first start). */
  createRoot?: boolean;
  /** Masked parents built from main (their SQL already read). */
  templates?: Template[];
  /** Directory with pg_dump/pg_restore/pg_basebackup for imports. */
  clientBin?: string | null;
  runner?: Runner;
  /** How often running branches' change capture is drained (ms; 0: only on demand). Default 1000. */
  capturePollMs?: number;
  log?: LogFn;
  onStep?: StepHook;
  /** The change log rebase replays and how capture goes onto a rebased volume (tests hand in their own). */
  capture?: RebaseCapture | null;
}

export interface Engine {
  manager: BranchManager;
  /** Idle suspend, capacity, and `wake` (start a branch, making room first): the way to start a branch. */
  lifecycle: Lifecycle;
  builder: RootBuilder;
  /** Rebase: the branch's change log replayed onto its parent's current state. */
  rebaser: BranchRebaser;
  /** Schema and data diff of a branch against its parent (GET /v1/branches/:name/diff). */
  differ: BranchDiffer;
  pg: PostgresControl;
  storage: StorageDriver;
  /** The CA and server certificate of branch postgres (ssl=on). */
  tls: PostgresTls;
  /** The port allocator (failure tests squat a port right after it is handed out). */
  ports: PortAllocator;
  dataDir: string;
  /** Every branch's change log (rebase replays it, the data diff counts it); slot lag for /metrics. */
  changes: Capture;
  /** What recovery set aside instead of acting on it (GET /v1/doctor). */
  doctor(): Promise<DoctorReport>;
  close(opts?: { stopBranches?: boolean }): Promise<void>;
  /**
   * Stops the engine's timers and touches nothing else: what a killed agent leaves behind. Crash
   * tests call it before another engine (or a child process) takes the data dir over, so a
   * forgotten in-process engine never drains or sweeps with a registry that is no longer true.
   */
  detach(): void;
}

export const consoleLog: LogFn = (level, msg) => {
  process.stderr.write(`${level === 'info' ? '' : `${level}: `}${msg}\n`);
};

/** Opens the pool, finds postgres, recovers what a crash left, and makes sure `main` exists. */
export async function openEngine(opts: EngineOptions): Promise<Engine> {
  const runner = opts.runner ?? processRunner;
  const log = opts.log ?? consoleLog;
  // Where start-up time goes, in the log: a restart with hundreds of branches must stay quick.
  const t0 = performance.now();
  const phases: string[] = [];
  let mark = t0;
  const phase = (name: string) => {
    const now = performance.now();
    phases.push(`${name} ${Math.round(now - mark)} ms`);
    mark = now;
  };
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  await chmod(dataDir, 0o755);

  let bins = await resolveBinaries(runner, opts.pgBin);
  const user = await resolvePostgresUser(runner, opts.pgUser, (m) => log('info', m));
  if (bins.embedded && !(await isReachable(runner, user, bins.postgres))) {
    // A checkout under a 0700 home hides node_modules from the postgres user: use a shared copy.
    const dir = await shareEmbeddedBinaries(runner, bins, (m) => log('warn', m));
    bins = await resolveBinaries(runner, dir);
    bins.embedded = true;
  }
  await assertReachable(runner, user, bins.postgres, 'the PostgreSQL binary');
  await assertReachable(runner, user, dataDir, 'the data directory');

  const storage = await openStorage({
    kind: opts.storage,
    dataDir,
    poolImage: opts.pool.image,
    poolSizeGiB: opts.pool.sizeGiB,
    quotaBytes: opts.branch.quota ?? null,
    zfsDataset: opts.zfs.dataset,
    runner,
    log: (level, msg) => log(level, msg),
  });
  phase('binaries and storage');
  const state = join(dataDir, 'state');
  await mkdir(state, { recursive: true, mode: 0o700 });
  const tls = await ensurePostgresTls({
    runner,
    stateDir: state,
    tlsDir: join(dataDir, 'tls'),
    publicHost: opts.publicHost ?? '127.0.0.1',
    user,
  });
  const pg = new PostgresControl({
    bins,
    user,
    runner,
    socketRoot: socketRootFor(dataDir),
    logDir: join(dataDir, 'logs'),
    tls,
  });
  await pg.ensureDirs();
  // Built once and handed to every part that needs them.
  const registry = new Registry(join(state, 'branches'));
  const locks = new KeyedLock();
  const ports = new PortAllocator(opts.ports);
  const capture = new Capture({ pg, registry, locks, dataDir, log, pollMs: opts.capturePollMs });
  const provisioner = new Provisioner({
    storage,
    pg,
    ports,
    pgUser: user,
    registry,
    locks,
    cluster: { pgListen: opts.pgListen, ...opts.branch },
    minFreeBytes: opts.minFreeBytes ?? 128 * 1024 * 1024,
    log,
    onStep: opts.onStep,
    capture,
  });
  const manager = new BranchManager({
    registry,
    locks,
    provisioner,
    storage,
    defaultTtl: opts.branch.defaultTtl,
    log,
    onStep: opts.onStep,
    capture,
  });
  const builder = new RootBuilder({
    registry,
    locks,
    provisioner,
    manager,
    storage,
    pg,
    runner,
    pgUser: user,
    log,
    onStep: opts.onStep,
    stateDir: state,
    workDir: join(dataDir, 'work'),
    clientBinDirs: opts.clientBin ? [opts.clientBin] : [],
    templates: opts.templates ?? [],
  });
  const policy: LifecyclePolicy = {
    suspendAfterMs: opts.idle?.suspendAfterMs ?? null,
    maxRunning: opts.capacity?.maxRunning ?? null,
    memoryBudgetBytes: opts.capacity?.memoryBudget ?? null,
    branchBytes: branchMemoryEstimate(opts.branch.sharedBuffers),
  };
  const lifecycle = new Lifecycle({
    manager,
    policy,
    clientCount: (rec) => clientCount(pg, rec),
    log,
  });
  const rebaser = new BranchRebaser({
    registry,
    locks,
    provisioner,
    storage,
    pg,
    pgUser: user,
    capture: opts.capture !== undefined ? opts.capture : capture.forRebase(),
    log,
    onStep: opts.onStep,
  });
  const recovery = new BranchRecovery({
    registry,
    locks,
    provisioner,
    leftovers: new CrashLeftovers({ storage, pg }),
    manager,
    runningLimit: runningLimit(policy),
    log,
  });
  // The builder first: a crash mid-swap leaves staging volumes only it knows how to finish or undo.
  phase('tls and setup');
  await registry.load();
  phase(`registry (${registry.all().length} records)`);
  await builder.recover();
  // Interrupted rebases are finished or undone before the manager's recovery looks at states.
  await rebaser.recover();
  phase('staging recovery');
  await recovery.run();
  phase('branch recovery');
  if (opts.createRoot !== false) await manager.ensureRoot();
  await capture.prune();
  capture.start();
  // Templates are built from data: before the first init, main is an empty initdb and they wait for it.
  if (opts.templates?.length && (await builder.lastSpec())) {
    await builder.rebuildTemplates({ onlyMissing: true }).catch((e) => log('error', `templates: ${(e as Error).message}`));
  }
  phase('main and templates');
  log('info', `engine open in ${Math.round(performance.now() - t0)} ms (${phases.join(', ')})`);
  return {
    manager,
    lifecycle,
    builder,
    rebaser,
    // Row counts come from the change log rebase replays (a test's own when it hands one in).
    differ: new BranchDiffer({ manager, pg, changeLog: opts.capture !== undefined ? (opts.capture?.reader ?? null) : capture }),
    pg,
    storage,
    tls,
    ports,
    dataDir,
    changes: capture,
    doctor: () => doctorReport({ registry, storage }),
    detach() {
      lifecycle.stopSweeping();
      capture.stopDraining();
      void storage.close?.();
    },
    async close(c = {}) {
      lifecycle.stopSweeping();
      // Everything committed so far goes into the change logs, whether branches stop or keep running.
      await capture.close();
      if (c.stopBranches) await manager.stopAll();
      await storage.close?.();
    },
  };
}

/** The engine's share of the agent config. */
export function engineOptionsFromConfig(c: AgentConfig): EngineOptions {
  return {
    dataDir: c.dataDir,
    storage: c.storage,
    pgBin: c.pgBin,
    pgUser: c.pgUser,
    pgListen: c.pgListen,
    publicHost: c.publicHost,
    ports: c.ports,
    branch: c.branch,
    pool: c.pool,
    zfs: c.zfs,
    clientBin: c.clientBin,
    idle: { suspendAfterMs: c.idle.suspendAfter },
    capacity: c.capacity,
  };
}

/** The config file's defaults, for a data dir (tests and the benchmark). */
export function defaultEngineOptions(dataDir: string): EngineOptions {
  return { ...engineOptionsFromConfig(loadConfig({ env: {}, flags: {} })), dataDir };
}
