import pg from 'pg';
import type { Engine } from '../../src/agent/engine.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { SOURCE_DB, rowCounts } from './dataset.ts';
import { timed } from './measure.ts';
import { progress } from './progress.ts';

export interface BranchSamples {
  /** manager.create measured from the outside: until the branch accepts a password login over TCP. */
  createWallMs: number[];
  /** The engine's own timings.createMs (what create returns to API clients). */
  createEngineMs: number[];
  resetMs: number[];
  deleteMs: number[];
  /** Exclusive bytes of each branch right after create (manager.measure). */
  exclusiveBytes: number[];
  /** Pool bytes in use before the runs and after deleting every branch (btrfs settled). */
  poolUsedBefore: number;
  poolUsedAfter: number;
}

export interface BranchParent {
  label: string;
  engine: Engine;
  expectedRows: Record<string, number>;
}

/**
 * create → measure → reset → delete on every parent, `runs` times, after one untimed warm-up each.
 * Parents take turns within each run (order flipped every run), so load from elsewhere on the host
 * hits every size alike and the size ratio stays fair. A CHECKPOINT of main before each timed step,
 * so every step starts from a clean parent.
 */
export async function benchBranches(parents: readonly BranchParent[], runs: number): Promise<BranchSamples[]> {
  const out: BranchSamples[] = [];
  for (const p of parents) {
    await p.engine.manager.create({ name: 'bench-warmup', parent: 'main' });
    await p.engine.manager.delete('bench-warmup');
    out.push({
      createWallMs: [],
      createEngineMs: [],
      resetMs: [],
      deleteMs: [],
      exclusiveBytes: [],
      poolUsedBefore: await settledUsage(p.engine),
      poolUsedAfter: 0,
    });
  }
  for (let i = 1; i <= runs; i++) {
    const order = parents.map((_, k) => k);
    if (i % 2 === 0) order.reverse();
    for (const k of order) {
      const ms = await oneRun(parents[k], i, out[k]);
      progress(
        `  branch run ${i}/${runs} ${parents[k].label}: create ${Math.round(ms)} ms, exclusive ${fmtKiB(out[k].exclusiveBytes.at(-1))}`,
      );
    }
  }
  for (const [k, p] of parents.entries()) out[k].poolUsedAfter = await settledUsage(p.engine);
  return out;
}

async function oneRun(p: BranchParent, i: number, out: BranchSamples): Promise<number> {
  const m = p.engine.manager;
  const checkpoint = () => p.engine.pg.withClient(m.get('main').port, (c) => c.query('CHECKPOINT'));
  const name = `bench-${i}`;
  await checkpoint();
  const created = await timed(() => m.create({ name, parent: 'main' }));
  out.createWallMs.push(created.ms);
  out.createEngineMs.push(created.value.record.timings.createMs ?? NaN);
  if (i === 1) await assertBranchHoldsData(created.value.record, p.expectedRows);
  const bytes = await m.measure(name);
  if (bytes !== null) out.exclusiveBytes.push(bytes);
  await checkpoint();
  out.resetMs.push((await timed(() => m.reset(name))).ms);
  out.deleteMs.push((await timed(() => m.delete(name))).ms);
  return created.ms;
}

/** Pool bytes in use once btrfs has really freed deleted subvolumes. */
async function settledUsage(engine: Engine): Promise<number> {
  await engine.manager.storage.settle?.();
  return (await engine.manager.storage.usage()).usedBytes;
}

function fmtKiB(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${Math.round(bytes / 1024)} KiB`;
}

/** The branch must hold the parent's rows, reachable with its own credentials: else the timing means nothing. */
async function assertBranchHoldsData(rec: Parameters<typeof connectionInfo>[0], expected: Record<string, number>): Promise<void> {
  const info = connectionInfo(rec, '127.0.0.1');
  const c = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: SOURCE_DB });
  c.on('error', () => {});
  await c.connect();
  try {
    const got = await rowCounts(c);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      throw new Error(`branch ${rec.name} has rows ${JSON.stringify(got)}, its parent ${JSON.stringify(expected)}`);
    }
  } finally {
    await c.end();
  }
}
