/**
 * Rebase vs reset of a branch that changed 100k rows, side by side in one run. Needs root
 * (loop-mounted btrfs pool), btrfs-progs, and change capture in the engine (it logs the changes).
 *
 *   node bench/rebase.ts [--rows 100000] [--runs 3]
 *
 * main: a table of `rows` rows (~140 bytes each); the branch updates every row (one transaction of
 * `rows` changes in its change log), main then gains a column and 1,000 rows. Reset of a second
 * branch and rebase of the first are timed alternately; each rebase replays the whole log again.
 */
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { openBenchEngine, adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import type { BenchEngine } from './lib/bench-engine.ts';
import { progress } from './lib/progress.ts';
import { median } from './lib/stats.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);

let bench: BenchEngine | null = null;
process.on('SIGINT', () => void (bench ? destroyBenchDir(bench.dataDir, bench.engine) : Promise.resolve()).then(() => process.exit(130)));

async function sql(branch: string, text: string): Promise<Array<Record<string, unknown>>> {
  const c = await adminClient(bench!.engine, branch, 'postgres');
  try {
    return (await c.query(text)).rows as Array<Record<string, unknown>>;
  } finally {
    await c.end();
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

try {
  bench = await openBenchEngine('rebase', { from: 47100, to: 47199 });
  const { engine } = bench;
  const m = engine.manager;
  progress(`main: ${ROWS} rows`);
  await sql('main', `CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text); ALTER TABLE big REPLICA IDENTITY FULL`);
  await sql('main', `INSERT INTO big SELECT g, g, repeat('x', 100) FROM generate_series(1, ${ROWS}) g`);
  await m.create({ name: 'feature' });
  await m.create({ name: 'resetme' });
  progress(`feature: UPDATE of all ${ROWS} rows`);
  await sql('feature', 'UPDATE big SET v = v + 1');
  await sql(
    'main',
    `ALTER TABLE big ADD COLUMN note text; INSERT INTO big SELECT g, g, 'main' FROM generate_series(${ROWS + 1}, ${ROWS + 1000}) g`,
  );
  await sql('resetme', 'UPDATE big SET v = 0');

  const resets: number[] = [];
  const rebases: number[] = [];
  for (let i = 1; i <= RUNS; i++) {
    progress(`run ${i}/${RUNS}: reset`);
    resets.push(await timed(() => m.reset('resetme')));
    progress(`run ${i}/${RUNS}: rebase (${ROWS} changed rows)`);
    rebases.push(await timed(() => engine.rebaser.rebase('feature')));
    const [check] = await sql('feature', `SELECT count(*)::int AS n, sum(v - id)::int AS moved FROM big`);
    if (check.n !== ROWS + 1000 || check.moved !== ROWS) throw new Error(`rebase result is wrong: ${JSON.stringify(check)}`);
  }
  const r = median(resets);
  const b = median(rebases);
  const fmt = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
  process.stdout.write(
    [
      `rebase vs reset, ${ROWS} changed rows, ${RUNS} runs each, alternating (${cpus().length} cores, load ${loadavg()[0].toFixed(2)})`,
      '',
      '| operation | median | runs |',
      '|---|---|---|',
      `| reset (re-snapshot, no replay) | ${fmt(r)} | ${resets.map(fmt).join(', ')} |`,
      `| rebase (${ROWS} row changes replayed) | ${fmt(b)} | ${rebases.map(fmt).join(', ')} |`,
      '',
      `rebase/reset: ${(b / r).toFixed(1)}x; replay ≈ ${Math.round(ROWS / ((b - r) / 1000))} rows/s`,
      '',
    ].join('\n'),
  );
} finally {
  if (bench) await destroyBenchDir(bench.dataDir, bench.engine);
}
