import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { openEngine, defaultEngineOptions } from '../../src/agent/engine.ts';
import type { Engine } from '../../src/agent/engine.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { isMountPoint } from '../../src/agent/storage/loop-pool.ts';
import { processesUnder, kill, alive } from '../../src/agent/postgres/processes.ts';
import { SUPERUSER } from '../../src/agent/postgres/instance.ts';
import { progress } from './progress.ts';

export interface BenchEngine {
  engine: Engine;
  dataDir: string;
}

/** A fresh engine on its own loop-mounted btrfs pool under /var/tmp (reachable by the postgres OS user). */
export async function openBenchEngine(
  tag: string,
  ports: { from: number; to: number },
  /** Per-branch quota in bytes, null for none; the config default when left out. */
  quota?: number | null,
): Promise<BenchEngine> {
  const dataDir = await mkdtemp(join('/var/tmp', `vela-bench-${tag}-`));
  await chmod(dataDir, 0o755);
  try {
    const defaults = defaultEngineOptions(dataDir);
    const engine = await openEngine({
      ...defaults,
      branch: { ...defaults.branch, ...(quota === undefined ? {} : { quota }) },
      storage: 'btrfs',
      ports,
      pool: { image: null, sizeGiB: 24 },
      // Info lines (one per create) would drown the progress; warnings and errors still show.
      log: (level, msg) => {
        if (level !== 'info') progress(`engine ${level}: ${msg}`);
      },
    });
    return { engine, dataDir };
  } catch (err) {
    await destroyBenchDir(dataDir);
    throw err;
  }
}

/** A superuser session on one database of a branch, over its unix socket. */
export async function adminClient(engine: Engine, branch: string, database: string): Promise<pg.Client> {
  const rec = engine.manager.get(branch);
  const client = new pg.Client({ host: engine.pg.socketDir(rec.port), port: rec.port, user: SUPERUSER, database });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Stops every branch, kills anything left under the dir, unmounts the pool and removes the dir. */
export async function destroyBenchDir(dataDir: string, engine?: Engine): Promise<void> {
  if (engine) {
    for (const rec of engine.manager.list()) {
      await engine.pg.stop(engine.manager.storage.volumePath(rec.name), 'immediate').catch(() => {});
    }
  }
  const leftovers = await processesUnder(dataDir);
  for (const p of leftovers) kill(p.pid, 'SIGKILL');
  for (const p of leftovers) {
    for (let i = 0; i < 100 && alive(p.pid); i++) await new Promise((r) => setTimeout(r, 20));
  }
  const pool = join(dataDir, 'pool');
  if (await isMountPoint(pool)) {
    const r = await processRunner(['umount', pool], { allowFailure: true });
    if (r.code !== 0) await processRunner(['umount', '-l', pool], { allowFailure: true });
  }
  await rm(dataDir, { recursive: true, force: true });
}
