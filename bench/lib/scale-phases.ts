import pg from 'pg';
import type { ScaleAgent } from './scale-agent.ts';
import { startPgbench } from './pgbench.ts';
import type { PgbenchRun } from './pgbench.ts';
import { branchMemory } from './branch-memory.ts';
import type { BranchMemory } from './branch-memory.ts';
import { progress } from './progress.ts';

export interface BenchError {
  phase: string;
  branch: string;
  message: string;
}

/** What every phase records into; the report reads it. */
export interface ScaleState {
  agent: ScaleAgent;
  pgbench: string;
  /** Connection URI of each branch as its create handed it out (through the proxy when there is one). */
  uris: Map<string, string>;
  /** Wake count of each branch, for the rotation's least-woken-first order. */
  woken: Map<string, number>;
  errors: BenchError[];
}

export interface CreateSample {
  /** Branches on the host after this create (main not counted). */
  count: number;
  ms: number;
}

export interface WakeSample {
  count: number;
  branch: string;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fail(s: ScaleState, phase: string, branch: string, err: unknown): void {
  const message = (err as Error).message.split('\n')[0];
  s.errors.push({ phase, branch, message });
  progress(`  ERROR ${phase} ${branch}: ${message}`);
  if (s.errors.length > 25) throw new Error(`more than 25 errors, giving up (last: ${phase} ${branch}: ${message})`);
}

/** POST /v1/branches from main, timed from the outside; the new branch is stopped right after (untimed). */
export async function createBranches(s: ScaleState, names: readonly string[], firstCount: number): Promise<CreateSample[]> {
  const out: CreateSample[] = [];
  for (const [i, name] of names.entries()) {
    try {
      const t0 = performance.now();
      const r = await s.agent.client.create({ name, parent: 'main' });
      const ms = performance.now() - t0;
      if (!r.branch.connection) throw new Error('create answered without connection info');
      s.uris.set(name, r.branch.connection.uri);
      s.woken.set(name, 0);
      out.push({ count: firstCount + i + 1, ms });
      await s.agent.client.stop(name);
    } catch (err) {
      fail(s, 'create', name, err);
    }
  }
  return out;
}

/** One query over a handed-out URI; node-postgres follows its sslmode the way libpq does (require = encrypt, no verify). */
export async function queryOnce<T extends pg.QueryResultRow>(uri: string, text: string): Promise<T[]> {
  const u = new URL(uri);
  if (u.searchParams.has('sslmode')) u.searchParams.set('uselibpqcompat', 'true');
  const c = new pg.Client({ connectionString: u.toString(), connectionTimeoutMillis: 30_000, application_name: 'vela-scale-bench' });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function firstQuery(uri: string): Promise<void> {
  await queryOnce(uri, 'SELECT 1');
}

/**
 * Brings a stopped branch to its first answered query. Through the proxy: just connect (it wakes the
 * branch while holding the connection). Without one: POST /start, then connect to the branch directly.
 */
async function wake(s: ScaleState, name: string): Promise<number> {
  const uri = s.uris.get(name)!;
  const t0 = performance.now();
  if (!s.agent.proxy) await s.agent.client.start(name);
  await firstQuery(uri);
  return performance.now() - t0;
}

export interface RoundResult {
  wakes: WakeSample[];
  /** Branches that were not stopped when their turn came (not counted as wakes). */
  notStopped: number;
  memory: BranchMemory[];
  pgbench: PgbenchRun[];
}

/** Picks the `size` least-woken branches (ties: oldest first). */
export function nextGroup(s: ScaleState, size: number): string[] {
  return [...s.woken.entries()]
    .sort((a, b) => a[1] - b[1])
    .slice(0, size)
    .map(([name]) => name);
}

/**
 * One rotation round: wake each branch of the group from stopped (timed to its first query), measure
 * the memory of the idle running branches, run pgbench on all of them at once, then stop them.
 */
export async function rotationRound(
  s: ScaleState,
  group: readonly string[],
  count: number,
  load: { seconds: number; rate: number },
): Promise<RoundResult> {
  const out: RoundResult = { wakes: [], notStopped: 0, memory: [], pgbench: [] };
  const awake: string[] = [];
  for (const name of group) {
    try {
      const state = (await s.agent.client.get(name)).state;
      const ms = await wake(s, name);
      if (state === 'stopped') out.wakes.push({ count, branch: name, ms });
      else out.notStopped++;
      s.woken.set(name, (s.woken.get(name) ?? 0) + 1);
      awake.push(name);
    } catch (err) {
      fail(s, 'wake', name, err);
    }
  }
  await sleep(1000); // let start-up work settle before reading idle memory
  for (const name of awake) {
    const m = await branchMemory(s.agent.volumePath(name));
    if (m) out.memory.push(m);
  }
  const jobs = awake.map((name) => ({
    name,
    job: startPgbench(s.pgbench, s.uris.get(name)!, { clients: 1, seconds: load.seconds, rate: load.rate }),
  }));
  for (const { name, job } of jobs) {
    const r = await job.done;
    out.pgbench.push(r);
    if (r.errors) fail(s, 'pgbench', name, new Error(r.problem ?? `${r.errors} failed transactions`));
  }
  for (const name of awake) {
    try {
      await s.agent.client.stop(name);
    } catch (err) {
      fail(s, 'stop', name, err);
    }
  }
  return out;
}

async function createAndDelete(s: ScaleState, name: string): Promise<number> {
  const t0 = performance.now();
  await s.agent.client.create({ name, parent: 'main' });
  const ms = performance.now() - t0;
  await s.agent.client.delete(name);
  return ms;
}

/**
 * Idle means nothing written since the parent's last checkpoint: an untimed create (its CHECKPOINT
 * flushes what a load left behind) after the load is over, so the next create meets a quiet parent.
 */
export async function quietParent(s: ScaleState, name = 'quiet-parent'): Promise<void> {
  await sleep(2000);
  await createAndDelete(s, name);
}

export interface LoadPair {
  idleMs: number;
  loadedMs: number;
  parentTps: number | null;
}

/**
 * Create with the parent idle, then with the parent under pgbench, `pairs` times, each branch deleted
 * right after. Side by side in one run, so the rest of the host weighs on both alike.
 */
export async function loadedVsIdle(
  s: ScaleState,
  mainUri: string,
  pairs: number,
  parent: { clients: number; rate: number },
): Promise<LoadPair[]> {
  const out: LoadPair[] = [];
  for (let i = 1; i <= pairs; i++) {
    try {
      await quietParent(s, `load-warm-${i}`);
      const idleMs = await createAndDelete(s, `load-idle-${i}`);
      const job = startPgbench(s.pgbench, mainUri, { clients: parent.clients, seconds: 9, rate: parent.rate });
      await sleep(5000); // past pgbench's start and into its steady state
      const loadedMs = await createAndDelete(s, `load-busy-${i}`);
      const run = await job.done;
      if (run.errors) fail(s, 'parent pgbench', 'main', new Error(run.problem ?? 'failed transactions'));
      out.push({ idleMs, loadedMs, parentTps: run.tps });
      progress(
        `  pair ${i}/${pairs}: idle ${Math.round(idleMs)} ms, under pgbench ${Math.round(loadedMs)} ms (parent ${Math.round(run.tps ?? 0)} tps)`,
      );
    } catch (err) {
      fail(s, 'create idle/loaded', `pair ${i}`, err);
    }
  }
  return out;
}

export interface RestartResult {
  ms: number;
  branchesBefore: number;
  branchesAfter: number;
  lost: string[];
  notServing: string[];
}

/** SIGTERM the agent, start it again on the same data dir, time until it lists every branch. */
export async function restartAgent(s: ScaleState): Promise<RestartResult> {
  const before = (await s.agent.client.list()).branches.map((b) => b.name);
  await s.agent.stop();
  const t0 = performance.now();
  await s.agent.start();
  const after = (await s.agent.client.list()).branches;
  const ms = performance.now() - t0;
  const names = new Set(after.map((b) => b.name));
  return {
    ms,
    branchesBefore: before.length,
    branchesAfter: after.length,
    lost: before.filter((n) => !names.has(n)),
    notServing: after.filter((b) => b.state !== 'ready' && b.state !== 'stopped').map((b) => `${b.name} (${b.state})`),
  };
}
