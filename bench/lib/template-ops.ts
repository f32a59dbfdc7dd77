import type pg from 'pg';
import { join } from 'node:path';
import { SOURCE_DB, rowCounts } from './dataset.ts';
import { btrfsDu, timed } from './measure.ts';
import { progress } from './progress.ts';

export type TemplateStrategy = 'file_copy_clone' | 'wal_log';

export interface TemplateSamples {
  ms: number[];
  /** btrfs exclusive bytes of the first copy's base/<oid> directory. */
  exclusiveBytes: number | null;
}

/**
 * CREATE DATABASE … TEMPLATE benchsrc on main's own cluster, `runs` times; each copy dropped after.
 * `admin` is a superuser session on the `postgres` database (the template must have no sessions).
 */
export async function benchTemplate(
  admin: pg.Client,
  mainDir: string,
  strategy: TemplateStrategy,
  runs: number,
  expectedRows: Record<string, number>,
  openDb: (name: string) => Promise<pg.Client>,
): Promise<TemplateSamples> {
  const sql = strategy === 'file_copy_clone' ? 'STRATEGY FILE_COPY' : 'STRATEGY WAL_LOG';
  // PostgreSQL 18: FILE_COPY clones files (copy_file_range, a reflink on btrfs) instead of copying them.
  await admin.query(`SET file_copy_method = ${strategy === 'file_copy_clone' ? 'clone' : 'copy'}`);
  const out: TemplateSamples = { ms: [], exclusiveBytes: null };
  for (let i = 1; i <= runs; i++) {
    const name = `copy_${strategy}_${i}`;
    await admin.query('CHECKPOINT');
    const t = await timed(() => admin.query(`CREATE DATABASE ${name} TEMPLATE ${SOURCE_DB} ${sql}`));
    out.ms.push(t.ms);
    if (i === 1) {
      const oid = (await admin.query<{ oid: string }>('SELECT oid FROM pg_database WHERE datname = $1', [name])).rows[0].oid;
      await admin.query('CHECKPOINT'); // WAL_LOG writes through shared buffers: flush before measuring the files
      out.exclusiveBytes = (await btrfsDu(join(mainDir, 'base', String(oid)))).exclusiveBytes;
      await assertCopyHoldsData(openDb, name, expectedRows);
    }
    await admin.query(`DROP DATABASE ${name}`);
    progress(`  ${strategy} run ${i}/${runs}: ${Math.round(t.ms)} ms`);
  }
  return out;
}

export async function assertCopyHoldsData(
  openDb: (name: string) => Promise<pg.Client>,
  name: string,
  expected: Record<string, number>,
): Promise<void> {
  const c = await openDb(name);
  try {
    const got = await rowCounts(c);
    if (JSON.stringify(got) !== JSON.stringify(expected))
      throw new Error(`copy ${name} has rows ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  } finally {
    await c.end();
  }
}
