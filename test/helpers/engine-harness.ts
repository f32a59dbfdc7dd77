import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { openEngine, defaultEngineOptions } from '../../src/agent/engine.ts';
import type { Engine, EngineOptions } from '../../src/agent/engine.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { isMountPoint } from '../../src/agent/storage/loop-pool.ts';
import { processesUnder, kill } from '../../src/agent/postgres/processes.ts';

let fileSeq = 0;

/**
 * A port range per vitest worker and per engine, so parallel suites never race for a port.
 * VELA_TEST_PORT_BASE moves the whole block (2,400 ports), for several checkouts testing at once.
 */
export function testPortRange(): { from: number; to: number } {
  const worker = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
  const shared = process.env.VELA_TEST_PORT_BASE;
  const base = shared
    ? Number(shared) + (worker % 2) * 1200 + (fileSeq++ % 12) * 100
    : 41000 + (worker % 16) * 1200 + (fileSeq++ % 12) * 100;
  return { from: base, to: base + 99 };
}

export async function makeDataDir(tag: string): Promise<string> {
  const dir = await mkdtemp(join('/var/tmp', `vela-test-${tag}-`));
  await chmod(dir, 0o755); // the postgres OS user must be able to reach the pool
  return dir;
}

export interface TestEngine extends Engine {
  options: EngineOptions;
  reopen(extra?: Partial<EngineOptions>): Promise<TestEngine>;
  destroy(): Promise<void>;
}

/** A real engine on a real loop-mounted btrfs pool in a fresh directory. */
export async function openTestEngine(tag: string, extra: Partial<EngineOptions> = {}): Promise<TestEngine> {
  const dataDir = extra.dataDir ?? (await makeDataDir(tag));
  const options: EngineOptions = {
    ...defaultEngineOptions(dataDir),
    storage: 'btrfs',
    ports: testPortRange(),
    pool: { image: null, sizeGiB: 8 },
    log: () => {},
    ...extra,
  };
  return wrap(await openEngine(options), options);
}

function wrap(engine: Engine, options: EngineOptions): TestEngine {
  return {
    ...engine,
    options,
    async reopen(more: Partial<EngineOptions> = {}) {
      // This engine stands for a process that died: its timers must not act on the next one's data.
      engine.detach();
      return wrap(await openEngine({ ...options, ...more }), { ...options, ...more });
    },
    destroy: () => destroyDataDir(options.dataDir),
  };
}

/** Stops every postgres under the dir, unmounts the pool and removes everything. */
export async function destroyDataDir(dataDir: string): Promise<void> {
  for (const p of await processesUnder(dataDir)) kill(p.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  const pool = join(dataDir, 'pool');
  if (await isMountPoint(pool)) await processRunner(['umount', '-l', pool], { allowFailure: true });
  await rm(dataDir, { recursive: true, force: true });
}

export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  uri: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  // node-postgres reads sslmode=require as verify-full unless told to follow libpq (encrypt, do not verify).
  const c = new pg.Client({ connectionString: /[?&]sslmode=/.test(uri) ? `${uri}&uselibpqcompat=true` : uri });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Superuser SQL over the branch's unix socket (the agent's own path in). */
export async function adminSql(engine: Engine, branch: string, text: string, database = 'postgres'): Promise<pg.QueryResultRow[]> {
  const rec = engine.manager.get(branch);
  return engine.pg.withClient(rec.port, async (c) => (await c.query(text)).rows, database);
}
