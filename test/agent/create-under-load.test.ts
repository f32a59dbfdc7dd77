import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';

const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;

/**
 * Writers that commit one numbered row per transaction (and dirty pages of a bigger table) as fast
 * as they can; `acked[w]` is the highest number whose COMMIT has returned to writer w.
 */
function startWriters(uri: string, writers: number) {
  const acked = new Array<number>(writers).fill(0);
  let stop = false;
  const loops = acked.map(async (_, w) => {
    const c = new pg.Client({ connectionString: `${uri}&uselibpqcompat=true` });
    c.on('error', () => {});
    await c.connect();
    try {
      for (let seq = 1; !stop; seq++) {
        await c.query('BEGIN');
        await c.query('INSERT INTO acked (writer, seq) VALUES ($1, $2)', [w, seq]);
        await c.query('UPDATE filler SET pad = md5(random()::text) WHERE id = $1', [1 + Math.floor(Math.random() * 20000)]);
        await c.query('COMMIT');
        acked[w] = seq;
      }
    } finally {
      await c.end();
    }
  });
  return {
    /** What every writer had seen committed at this moment. */
    snapshot: () => [...acked],
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

/** Every row a writer had seen committed before the create is in the child, none missing. */
async function expectChildHas(e: TestEngine, child: string, ackedBefore: number[]): Promise<void> {
  const rows = await sql<{ writer: number; n: string; top: number }>(
    uriOf(e, child),
    'SELECT writer, count(*) AS n, max(seq) AS top FROM acked GROUP BY writer ORDER BY writer',
  );
  ackedBefore.forEach((seq, w) => {
    const r = rows.find((x) => x.writer === w);
    expect(r, `writer ${w}`).toBeDefined();
    // Rows arrive in order per writer, so count == max means no gap below it.
    expect(Number(r!.n)).toBe(r!.top);
    expect(r!.top).toBeGreaterThanOrEqual(seq);
  });
}

function suite(storage: 'btrfs' | 'copy') {
  let e: TestEngine;

  beforeAll(async () => {
    e = await openTestEngine(`load-${storage}`, { storage });
    await sql(uriOf(e, 'main'), 'CREATE TABLE acked (writer int, seq int, PRIMARY KEY (writer, seq))');
    await sql(uriOf(e, 'main'), 'CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS pad FROM generate_series(1, 20000) g');
    await sql(uriOf(e, 'main'), 'ALTER TABLE filler ADD PRIMARY KEY (id)');
  });

  afterAll(async () => {
    await e?.destroy();
  });

  it(`a branch of a parent under write load holds every row committed before the create (${storage})`, async () => {
    const writers = startWriters(uriOf(e, 'main'), 4);
    try {
      await new Promise((r) => setTimeout(r, 500));
      for (const name of ['under-load-1', 'under-load-2', 'under-load-3']) {
        const before = writers.snapshot();
        expect(Math.min(...before)).toBeGreaterThan(0); // the writers really were committing
        const { record } = await e.manager.create({ name });
        expect(record.state).toBe('ready');
        await expectChildHas(e, name, before);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await writers.stop();
    }
    // The parent kept every row of its own, and the children are their own clusters.
    await sql(uriOf(e, 'under-load-1'), 'DELETE FROM acked');
    const [n] = await sql<{ n: string }>(uriOf(e, 'main'), 'SELECT count(*) AS n FROM acked');
    expect(Number(n.n)).toBeGreaterThan(0);
  });
}

describeWithPool('create under load', () => {
  describe('btrfs (atomic snapshot)', () => suite('btrfs'));
  describe('copy (backup mode, per-file)', () => suite('copy'));
});
