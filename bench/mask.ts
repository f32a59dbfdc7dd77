/**
 * What the masked-template scrub costs next to the masking SQL itself, side by side in one run:
 * the masking UPDATE alone in a plain branch of main, then the same SQL as a template rebuild
 * (snapshot, UPDATE, VACUUM FULL, statistics, WAL). Needs root (loop-mounted btrfs pool) and btrfs-progs.
 *
 *   node bench/mask.ts [--rows 1000000]
 */
import { mkdtemp, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { openEngine, defaultEngineOptions } from '../src/agent/engine.ts';
import type { Engine } from '../src/agent/engine.ts';
import { adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import { progress } from './lib/progress.ts';

const rowsArg = process.argv.indexOf('--rows');
const rows = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;
if (!Number.isInteger(rows) || rows < 1) throw new Error('--rows: expected a positive integer');

const SEED = `CREATE TABLE people (id bigint PRIMARY KEY, email text UNIQUE, full_name text, notes text);
INSERT INTO people SELECT g, 'p' || g || '@real.example', 'Name ' || md5(g::text), repeat(md5(g::text), 4)
FROM generate_series(1, ${rows}) g; ANALYZE;`;
const MASK = "UPDATE people SET email = 'p' || id || '@masked.invalid', full_name = 'Person ' || id, notes = NULL";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const dataDir = await mkdtemp(join('/var/tmp', 'vela-bench-mask-'));
await chmod(dataDir, 0o755);
let engine: Engine | undefined;
try {
  const reports: Record<string, unknown>[] = [];
  engine = await openEngine({
    ...defaultEngineOptions(dataDir),
    storage: 'btrfs',
    ports: { from: 47000, to: 47099 },
    pool: { image: null, sizeGiB: 24 },
    templates: [{ name: 'main-masked', from: 'main', sql: [{ name: 'mask.sql', sql: MASK }] }],
    log: (level, msg, fields) => {
      if (msg.includes('masked and scrubbed')) reports.push(fields ?? {});
      else if (level !== 'info') progress(`engine ${level}: ${msg}`);
    },
  });
  progress(`building main with ${rows} rows`);
  await engine.builder.build({ mode: 'empty', seeds: [{ name: 'seed.sql', sql: SEED }] });

  await engine.manager.create({ name: 'naive' });
  const c = await adminClient(engine, 'naive', 'postgres');
  let t = performance.now();
  await c.query(MASK);
  const updateMs = performance.now() - t;
  await c.end();

  reports.length = 0;
  t = performance.now();
  await engine.builder.rebuildTemplates();
  const templateMs = performance.now() - t;
  const r = reports[0] as { ms: { rewrite: number; analyze: number; wal: number }; bytesBefore: number; bytesAfter: number };
  const scrubMs = r.ms.rewrite + r.ms.analyze + r.ms.wal;
  console.log(`rows: ${rows}`);
  console.log(`masking UPDATE alone (plain branch):  ${seconds(updateMs)}`);
  console.log(`template rebuild with scrub:          ${seconds(templateMs)}`);
  console.log(
    `  scrub: ${seconds(scrubMs)} (rewrite ${seconds(r.ms.rewrite)}, statistics ${seconds(r.ms.analyze)}, WAL ${seconds(r.ms.wal)})`,
  );
  console.log(
    `  database: ${Math.round(r.bytesBefore / 1048576)} MB after the UPDATE, ${Math.round(r.bytesAfter / 1048576)} MB after the rewrite`,
  );
  console.log(`scrub / masking UPDATE: ${(scrubMs / updateMs).toFixed(2)}`);
} finally {
  await destroyBenchDir(dataDir, engine);
}
