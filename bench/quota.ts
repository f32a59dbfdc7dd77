/**
 * What per-branch quotas (btrfs qgroups) cost a create: two pools side by side in one run, one with
 * branch.quota 10G and one without, each with a ~1 GB main, creates and deletes taking turns.
 * Needs root (loop-mounted btrfs pools) and btrfs-progs.
 *
 *   node bench/quota.ts [--mb 1000] [--runs 9]
 */
import { openBenchEngine, adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import type { BenchEngine } from './lib/bench-engine.ts';
import { progress } from './lib/progress.ts';
import { median, percentile } from './lib/stats.ts';

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive integer`);
  return v;
};
const mb = flag('--mb', 1000);
const runs = flag('--runs', 9);

// ~1 KB a row: heap plus a primary key index.
async function fill(be: BenchEngine): Promise<void> {
  const c = await adminClient(be.engine, 'main', 'postgres');
  try {
    const rows = Math.round((mb * 1e6) / 1150);
    await c.query(`CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 30) AS pad FROM generate_series(1, ${rows}) g`);
    await c.query('ALTER TABLE filler ADD PRIMARY KEY (id)');
    await c.query('CHECKPOINT');
    const r = await c.query<{ b: string }>('SELECT pg_database_size(current_database()) AS b');
    progress(`  main holds ${(Number(r.rows[0].b) / 1e6).toFixed(0)} MB`);
  } finally {
    await c.end();
  }
}

const engines: { label: string; be: BenchEngine; samples: number[] }[] = [];
try {
  for (const [i, [label, quota]] of (
    [
      ['quota 10G', 10 * 1024 ** 3],
      ['no quota', null],
    ] as const
  ).entries()) {
    progress(`opening a pool with ${label} and filling main with ~${mb} MB`);
    const be = await openBenchEngine(`quota-${i}`, { from: 39500 + i * 100, to: 39599 + i * 100 }, quota);
    engines.push({ label, be, samples: [] });
    await fill(be);
  }
  for (let run = 0; run <= runs; run++) {
    for (const e of engines) {
      const t0 = performance.now();
      await e.be.engine.manager.create({ name: 'b' });
      const ms = performance.now() - t0;
      await e.be.engine.manager.delete('b');
      if (run > 0) e.samples.push(ms); // run 0 warms up
      progress(`  ${e.label} run ${run}/${runs}: create ${ms.toFixed(0)} ms${run === 0 ? ' (warm-up)' : ''}`);
    }
  }
  const [withQuota, without] = engines.map((e) => median(e.samples));
  for (const e of engines) {
    console.log(
      `${e.label.padEnd(10)} create median ${median(e.samples).toFixed(0)} ms, p90 ${percentile(e.samples, 90).toFixed(0)} ms (n=${e.samples.length})`,
    );
  }
  console.log(`qgroups cost ${(withQuota - without).toFixed(0)} ms per create at ~${mb} MB (x${(withQuota / without).toFixed(2)})`);
} finally {
  for (const e of engines) await destroyBenchDir(e.be.dataDir, e.be.engine);
}
