import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BranchManager } from './manager.ts';
import type { BranchRecord, Registry } from './registry.ts';
import type { KeyedLock } from './locks.ts';
import type { Runner } from '../runner.ts';
import type { LogFn } from '../logger.ts';
import type { StorageDriver } from '../storage/driver.ts';
import type { OsUser } from '../postgres/os-user.ts';
import { generatePassword } from '../postgres/scram.ts';
import { SUPERUSER } from '../postgres/instance.ts';
import { setUpOwner, OWNER_ROLE } from '../postgres/roles.ts';
import { runAsOwner } from '../provisioner/credentials.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import type { Provisioner, StepHook } from '../provisioner/provisioner.ts';
import { toApiError } from '../provisioner/failures.ts';
import { nextName, oldName, ROOT_BRANCH } from '../../core/names.ts';
import { badRequest, conflict, VelaError } from '../../core/errors.ts';
import { probeSource, describeSource } from '../sources/source-db.ts';
import { candidateDirs, findTools } from '../sources/client-tools.ts';
import { importLogical } from '../sources/logical.ts';
import { cloneReplica } from '../sources/physical.ts';
import type { BuildProgress } from '../sources/progress.ts';
import { idleProgress } from '../sources/progress.ts';
import { scrubCredentials } from '../../core/scrub-credentials.ts';
import { rebuildTemplates } from '../templates/rebuild.ts';
import type { Template } from '../templates/rebuild.ts';
import type { InitBody } from '../../core/api/requests.ts';

/** How to build main: the body of POST /v1/init, also stored to repeat the build on refresh. */
export type RootSpec = InitBody;

export type { Template };

/** The staging main has no record yet: a port it moves to only lives in `tmp`. */
const noPersist = async (): Promise<void> => {};

/** Written just before the swap so a crash between the renames can be finished on the next start. */
interface SwapIntent {
  database: string;
  superuser?: string;
  user: string;
  password: string;
  standby: boolean;
  mode: RootSpec['mode'];
}

export interface RootBuilderParts {
  registry: Registry;
  /** `main` and `snap:main` are held during the swap, so creates see either the old or the new main. */
  locks: KeyedLock;
  provisioner: Provisioner;
  /** Templates are branches: created, reset and protected through the state machine. */
  manager: BranchManager;
  storage: StorageDriver;
  pg: PostgresControl;
  runner: Runner;
  pgUser: OsUser | null;
  log: LogFn;
  onStep?: StepHook;
  stateDir: string;
  workDir: string;
  clientBinDirs?: string[];
  templates?: Template[];
}

/**
 * Builds a new `main` beside the old one (volume `.next-main`, own port), then swaps it in with two
 * renames while creates wait. Branches that exist keep their data; a failed or killed build leaves
 * the old `main` serving. Afterwards masked templates are rebuilt from the new data.
 */
export class RootBuilder {
  private readonly parts: RootBuilderParts;
  private readonly stateDir: string;
  private readonly workDir: string;
  private readonly clientBinDirs: string[];
  private readonly templates: Template[];
  progress: BuildProgress = idleProgress();
  private building = false;

  constructor(opts: RootBuilderParts) {
    this.parts = opts;
    this.stateDir = opts.stateDir;
    this.workDir = opts.workDir;
    this.clientBinDirs = opts.clientBinDirs ?? [];
    this.templates = opts.templates ?? [];
  }

  private specFile = () => join(this.stateDir, 'root-source.json');
  private intentFile = () => join(this.stateDir, 'root-swap.json');

  /** The spec of the last successful build (what a refresh repeats); holds the source URL, so 0600. */
  async lastSpec(): Promise<RootSpec | null> {
    const stored = JSON.parse(await readFile(this.specFile(), 'utf8').catch(() => 'null')) as (RootSpec & { url?: string }) | null;
    // Older agents stored the source as `url`.
    if (stored && stored.mode !== 'empty' && !stored.sourceUrl && stored.url) {
      const { url, ...rest } = stored;
      return { ...rest, sourceUrl: url };
    }
    return stored;
  }

  async refresh(): Promise<BranchRecord> {
    const spec = await this.lastSpec();
    if (!spec) throw conflict('main was never initialised from a source or seeds: run vela-branch init first');
    return this.build(spec);
  }

  async build(spec: RootSpec): Promise<BranchRecord> {
    if (this.building) throw conflict('a build of main is already running: wait for it (GET /v1/init/progress)');
    this.building = true;
    this.progress = {
      ...idleProgress(),
      running: true,
      mode: spec.mode,
      phase: 'checking the source',
      startedAt: new Date().toISOString(),
    };
    const secrets = 'sourceUrl' in spec ? [new URL(spec.sourceUrl).password, decodeURIComponent(new URL(spec.sourceUrl).password)] : [];
    try {
      const plan = await this.preflight(spec);
      const rec = await this.buildBeside(spec, plan);
      await writeFile(this.specFile(), JSON.stringify(spec), { mode: 0o600 });
      await this.rebuildTemplates();
      this.progress.phase = 'done';
      return rec;
    } catch (err) {
      const e = toApiError(err, `build main (${spec.mode})`);
      const safe = new VelaError(e.code, e.status, scrubCredentials(e.message, secrets.filter(Boolean)), e.details);
      this.progress.error = safe.message;
      this.progress.phase = 'failed';
      throw safe;
    } finally {
      this.progress.running = false;
      this.progress.finishedAt = new Date().toISOString();
      this.building = false;
    }
  }

  /** Everything that can be checked before anything is touched: source reachable, versions, tools. */
  private async preflight(
    spec: RootSpec,
  ): Promise<{ tool?: string; restore?: string; database: string; sourceBytes: number; superuser?: string }> {
    if (spec.mode === 'empty') return { database: 'postgres', sourceBytes: 0 };
    const src = await probeSource(spec.sourceUrl);
    const where = describeSource(spec.sourceUrl);
    const dirs = candidateDirs([...this.clientBinDirs, this.parts.pg.bins.dir]);
    const serverMajor = this.parts.pg.bins.major;
    if (spec.mode === 'logical') {
      const dumps = await findTools(this.parts.runner, 'pg_dump', dirs);
      const dump = dumps.find((t) => t.major >= src.major);
      if (!dump) {
        const have = dumps.map((t) => t.major).join(', ') || 'none';
        throw badRequest(
          `the source ${where} is PostgreSQL ${src.major}; pg_dump must be at least that version (found: ${have}). Install postgresql-client-${src.major} or point clientBin at it`,
        );
      }
      const restore = (await findTools(this.parts.runner, 'pg_restore', dirs)).find((t) => t.major === dump.major);
      if (!restore) throw badRequest(`no pg_restore ${dump.major} next to pg_dump ${dump.path}`);
      return { tool: dump.path, restore: restore.path, database: src.database, sourceBytes: src.bytes };
    }
    if (src.major !== serverMajor) {
      throw badRequest(
        `a physical replica needs the same major version: the source ${where} is PostgreSQL ${src.major}, this agent runs PostgreSQL ${serverMajor} (start the agent with --pg-bin pointing at PostgreSQL ${src.major}, or use a logical import)`,
      );
    }
    const bb = (await findTools(this.parts.runner, 'pg_basebackup', dirs)).find((t) => t.major === src.major);
    if (!bb) throw badRequest(`no pg_basebackup ${src.major} found: install PostgreSQL ${src.major} client tools`);
    return { tool: bb.path, database: src.database, sourceBytes: 0, superuser: src.superuser };
  }

  private async buildBeside(
    spec: RootSpec,
    plan: { tool?: string; restore?: string; database: string; sourceBytes: number; superuser?: string },
  ): Promise<BranchRecord> {
    const { storage, pg, pgUser, provisioner, registry } = this.parts;
    const staging = nextName(ROOT_BRANCH);
    await pg.stop(storage.volumePath(staging), 'immediate').catch(() => {});
    await storage.destroy(staging);
    const old = registry.get(ROOT_BRANCH);
    // A replica's roles and passwords are its source's: the record keeps none of them (nothing to hand out).
    const password = spec.mode === 'physical' ? '' : (old?.password ?? generatePassword());
    const user = spec.mode === 'physical' ? decodeURIComponent(new URL(spec.sourceUrl).username) : OWNER_ROLE;
    const port = await provisioner.allocatePort();
    const tmp: BranchRecord = {
      ...(old ?? ({} as BranchRecord)),
      name: staging,
      parent: null,
      state: 'creating',
      port,
      database: plan.database,
      user,
      password,
      standby: spec.mode === 'physical',
      ...(plan.superuser && plan.superuser !== SUPERUSER ? { superuser: plan.superuser } : {}),
    };
    const dir = await storage.createVolume(staging, pgUser);
    try {
      if (spec.mode === 'physical') {
        await cloneReplica({
          runner: this.parts.runner,
          pgBasebackup: plan.tool!,
          sourceUrl: spec.sourceUrl,
          dataDir: dir,
          user: pgUser,
          progress: this.progress,
        });
        await storage.prepareData?.(dir);
        await pg.ensureInclude(dir);
        await pg.writeHba(dir, { superuser: tmp.superuser, open: true });
        this.progress.phase = 'starting the standby';
        await provisioner.startOnFreePort(tmp, dir, noPersist, { standby: true });
        await provisioner.refuseAllSuperusers(tmp, dir);
      } else {
        this.progress.phase = 'initdb';
        await pg.initdb(dir);
        await storage.prepareData?.(dir);
        // pg_restore runs as the postgres OS user: it may log in as the superuser until the
        // credentials are rotated below (which rewrites pg_ident.conf for the agent alone).
        if (spec.mode === 'logical' && pgUser) await pg.writeHba(dir, { open: false, restoreOsUser: pgUser.name });
        await provisioner.startOnFreePort(tmp, dir, noPersist);
        const port = tmp.port;
        if (plan.database !== 'postgres') {
          await pg.withClient(port, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(plan.database)}`));
        }
        // Seeds run as the owner role, into databases it owns.
        await pg.withClient(port, (c) => setUpOwner(c, { role: OWNER_ROLE, major: pg.bins.major }));
        if (spec.mode === 'logical') {
          await importLogical({
            runner: this.parts.runner,
            pgDump: plan.tool!,
            pgRestore: plan.restore!,
            sourceUrl: spec.sourceUrl,
            sourceBytes: plan.sourceBytes,
            target: { socketDir: pg.socketDir(port), port, user: SUPERUSER, database: plan.database },
            workDir: join(this.workDir, 'import'),
            user: pgUser,
            jobs: spec.jobs ?? 2,
            progress: this.progress,
          });
        }
        for (const seed of spec.mode === 'empty' ? (spec.seeds ?? []) : []) {
          this.progress.phase = `seed ${seed.name}`;
          await runAsOwner(pg, port, OWNER_ROLE, seed.sql, plan.database).catch((e) => {
            throw badRequest(`seed ${seed.name} failed: ${(e as Error).message}`);
          });
        }
        // The import restored as the superuser: the owner role takes every object over.
        await provisioner.rotateCredentials(tmp, dir, { takeOwnership: true });
      }
      await this.parts.onStep?.('root-built', staging);
      this.progress.phase = 'swapping';
      await pg.stop(dir, 'fast');
    } catch (err) {
      await pg.stop(dir, 'immediate').catch(() => {});
      await storage.destroy(staging).catch(() => {});
      provisioner.releasePort(port);
      provisioner.releasePort(tmp.port);
      throw err;
    }
    provisioner.releasePort(port);
    provisioner.releasePort(tmp.port);
    return this.swap({
      database: plan.database,
      user,
      password,
      standby: spec.mode === 'physical',
      mode: spec.mode,
      superuser: plan.superuser,
    });
  }

  /** Old main out, new main in, under main's locks so creates see either the old or the new one. */
  private async swap(intent: SwapIntent): Promise<BranchRecord> {
    const { storage, pg, registry } = this.parts;
    return this.parts.locks.run(ROOT_BRANCH, () =>
      this.parts.locks.run(`snap:${ROOT_BRANCH}`, async () => {
        await writeFile(this.intentFile(), JSON.stringify(intent), { mode: 0o600 });
        const old = registry.get(ROOT_BRANCH);
        if (old) await pg.stop(storage.volumePath(ROOT_BRANCH), 'fast');
        if (await storage.exists(ROOT_BRANCH)) await storage.rename(ROOT_BRANCH, oldName(ROOT_BRANCH));
        await this.parts.onStep?.('root-swapping', ROOT_BRANCH);
        await storage.rename(nextName(ROOT_BRANCH), ROOT_BRANCH);
        const rec = await this.finishSwap(intent, old);
        await storage
          .destroy(oldName(ROOT_BRANCH))
          .catch((e) => this.parts.log('warn', `could not remove the old main volume: ${(e as Error).message}`));
        return rec;
      }),
    );
  }

  private async finishSwap(intent: SwapIntent, old: BranchRecord | undefined): Promise<BranchRecord> {
    const { storage, pg, registry, provisioner } = this.parts;
    const now = new Date().toISOString();
    const port = old?.port ?? (await provisioner.allocatePort());
    const rec: BranchRecord = {
      name: ROOT_BRANCH,
      parent: null,
      state: 'creating',
      port,
      database: intent.database,
      user: intent.user,
      password: intent.password,
      createdAt: now,
      updatedAt: now,
      expiresAt: null,
      protected: true,
      labels: { ...(old?.labels ?? {}), source: intent.mode },
      storage: { driver: storage.kind, exclusiveBytes: null },
      timings: { createMs: old?.timings.createMs ?? null },
      standby: intent.standby,
      ...(intent.superuser && intent.superuser !== SUPERUSER ? { superuser: intent.superuser } : {}),
    };
    await registry.put(rec);
    const dir = storage.volumePath(ROOT_BRANCH);
    await pg.configure(dir, provisioner.settings(rec), { standby: intent.standby });
    await pg.start(ROOT_BRANCH, dir);
    await provisioner.waitForLogin(rec);
    rec.state = 'ready';
    await registry.put(rec);
    provisioner.releasePort(port);
    await rm(this.intentFile(), { force: true });
    this.parts.log('info', `main rebuilt (${intent.mode}) and swapped in; existing branches keep their data`);
    return rec;
  }

  /**
   * After a crash during a build or swap: finish or undo the swap, drop a half-built `.next-main`.
   * Runs before the manager's own recovery, which would otherwise see the staging volumes as orphans.
   */
  async recover(): Promise<string[]> {
    const { storage, pg } = this.parts;
    const notes: string[] = [];
    const staging = await storage.listStaging();
    const hasOld = staging.includes(oldName(ROOT_BRANCH));
    const hasNext = staging.includes(nextName(ROOT_BRANCH));
    const hasMain = await storage.exists(ROOT_BRANCH);
    const intent = JSON.parse(await readFile(this.intentFile(), 'utf8').catch(() => 'null')) as SwapIntent | null;
    for (const name of staging) await pg.stop(storage.volumePath(name), 'immediate').catch(() => {});
    if (hasOld && !hasMain && hasNext) {
      await storage.rename(oldName(ROOT_BRANCH), ROOT_BRANCH); // first rename done, second not: undo it
      notes.push('interrupted swap of main undone (old main kept)');
    } else if (hasOld && hasMain) {
      await storage.destroy(oldName(ROOT_BRANCH)); // both renames done
      notes.push('finished swap of main (old volume removed)');
      if (intent) await this.applyIntent(intent);
    } else if (hasOld && !hasMain) {
      await storage.rename(oldName(ROOT_BRANCH), ROOT_BRANCH);
      notes.push('restored old main');
    } else if (!hasOld && hasMain && intent && !hasNext) {
      await this.applyIntent(intent); // swapped, old removed, record not yet written
      notes.push('finished swap of main (record updated)');
    }
    if (await storage.exists(nextName(ROOT_BRANCH))) {
      await storage.destroy(nextName(ROOT_BRANCH));
      notes.push('removed a half-built main (.next-main)');
    }
    await rm(this.intentFile(), { force: true });
    await rm(join(this.workDir, 'import'), { recursive: true, force: true });
    if (notes.length) this.parts.log('warn', `recovery: ${notes.join('; ')}`);
    return notes;
  }

  private async applyIntent(intent: SwapIntent): Promise<void> {
    const rec = this.parts.registry.get(ROOT_BRANCH);
    if (!rec) return;
    Object.assign(rec, {
      database: intent.database,
      user: intent.user,
      password: intent.password,
      standby: intent.standby,
      superuser: intent.superuser,
      state: 'ready',
    });
    rec.labels = { ...rec.labels, source: intent.mode };
    await this.parts.registry.put(rec);
  }

  /** (Re)builds the masked templates (templates/rebuild.ts); `onlyMissing`: those not servable now. */
  rebuildTemplates(opts: { onlyMissing?: boolean } = {}): Promise<void> {
    return rebuildTemplates(this.parts, this.templates, { ...opts, onPhase: (phase) => (this.progress.phase = phase) });
  }
}
