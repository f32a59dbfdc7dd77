import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql, adminSql, testPortRange } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { startSourceCluster } from '../helpers/source-cluster.ts';
import type { SourceCluster } from '../helpers/source-cluster.ts';
import { addPatients, grepPii, MASK_SQL } from '../helpers/pii.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';

const MASK = { name: 'mask.sql', sql: MASK_SQL };
const BAD = { name: 'bad.sql', sql: 'UPDATE no_such_table SET x = 1' };
const uriOf = (e: TestEngine, name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
const dirOf = (e: TestEngine, name: string) => e.manager.storage.volumePath(name);

describeWithPool('masked templates hold no unmasked byte (source: PostgreSQL 15 with PII)', () => {
  let src: SourceCluster;
  let e: TestEngine;
  let pii: Set<string>;
  const reports: Record<string, unknown>[] = [];

  beforeAll(async () => {
    e = await openTestEngine('masking', {
      templates: [{ name: 'main-masked', from: 'main', sql: [MASK] }],
      log: (_level, msg, fields) => {
        if (msg.includes('masked and scrubbed')) reports.push(fields ?? {});
      },
    });
    src = await startSourceCluster(e.dataDir, testPortRange().from + 90);
    pii = await addPatients(src);
    await e.builder.build({ mode: 'logical', sourceUrl: src.url, jobs: 2 });
  });

  afterAll(async () => {
    await src?.stop().catch(() => {});
    await e?.destroy();
  });

  describe('the byte grep of whole data directories', () => {
    it('finds every PII value in a branch of main (the grep works)', async () => {
      await e.manager.create({ name: 'raw' });
      const { found, bytes } = await grepPii(dirOf(e, 'raw'), pii);
      expect(pii.size).toBe(2500);
      expect(bytes).toBeGreaterThan(1_000_000);
      expect(found.size).toBe(pii.size);
    });

    it('still finds PII after the masking SQL alone (old row versions, TOAST, WAL): why the scrub exists', async () => {
      await e.manager.create({ name: 'naive' });
      await adminSql(e, 'naive', `${MASK_SQL} CHECKPOINT;`, 'shop');
      expect(await adminSql(e, 'naive', "SELECT 1 FROM customers WHERE email LIKE '%@real-mail.example'", 'shop')).toHaveLength(0);
      const { found, files } = await grepPii(dirOf(e, 'naive'), pii);
      expect(found.size).toBeGreaterThan(0);
      expect([...files].some((f) => f.startsWith('base/'))).toBe(true); // dead tuples in the heap
      expect([...files].some((f) => f.startsWith('pg_wal/'))).toBe(true);
    });

    it('finds 0 PII values in main-masked and in a branch of it; SQL agrees', async () => {
      const t = e.manager.get('main-masked');
      expect(t).toMatchObject({ state: 'ready', protected: true });
      expect(t.mask?.maskedBuild).toBe(t.mask?.build);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ branch: 'main-masked', pgStatStatementsReset: false });
      expect(reports[0].wal).toEqual({ before: expect.any(Number), after: 1 });
      expect((reports[0].wal as { before: number }).before).toBeGreaterThan(1);
      process.stderr.write(`scrub of main-masked: ${JSON.stringify(reports[0])}\n`);
      // A template never captures: an install racing its masking kept unmasked rows alive, and its log would hold them.
      expect(existsSync(join(e.options.dataDir, 'changes', 'main-masked'))).toBe(false);
      expect(await adminSql(e, 'main-masked', 'SELECT slot_name FROM pg_replication_slots')).toEqual([]);
      await e.manager.create({ name: 'qa', parent: 'main-masked' });
      for (const name of ['main-masked', 'qa']) {
        const { found, files, bytes } = await grepPii(dirOf(e, name), pii);
        expect({ name, found: [...found].slice(0, 5), files: [...files].slice(0, 5) }).toEqual({ name, found: [], files: [] });
        expect(bytes).toBeGreaterThan(1_000_000);
      }
      const rows = await sql<{ n: string; leaked: string }>(
        uriOf(e, 'qa'),
        "SELECT count(*) AS n, count(*) FILTER (WHERE email NOT LIKE '%@masked.invalid') AS leaked FROM patients",
      );
      expect(rows).toEqual([{ n: '500', leaked: '0' }]);
      // Statistics were rebuilt from masked rows.
      const stats = await adminSql(e, 'qa', "SELECT count(*)::int AS n FROM pg_stats WHERE tablename IN ('customers', 'patients')", 'shop');
      expect(stats[0].n).toBeGreaterThan(0);
      const leakedStats = await adminSql(
        e,
        'qa',
        "SELECT attname FROM pg_stats WHERE tablename IN ('customers', 'patients') AND (most_common_vals::text ~ 'real-mail|patients.example|Pii Name' OR histogram_bounds::text ~ 'real-mail|patients.example|Pii Name')",
        'shop',
      );
      expect(leakedStats).toEqual([]);
    });

    it('server logs stay outside the volume', async () => {
      const files = await adminSql(e, 'qa', "SELECT current_setting('logging_collector') AS c, current_setting('wal_recycle') AS r");
      expect(files).toEqual([{ c: 'off', r: 'off' }]);
      expect(e.pg.logFile('main-masked').startsWith(dirOf(e, 'main-masked'))).toBe(false);
    });
  });

  describe('a template whose masking failed', () => {
    it('stays failed, says why, and refuses start, reset and branching (409); a fixed SQL rebuilds it masked', async () => {
      e = await e.reopen({ templates: [{ name: 'main-masked', from: 'main', sql: [BAD] }] });
      await expect(e.builder.refresh()).rejects.toThrow(/template main-masked: bad.sql failed: relation "no_such_table" does not exist/);
      const t = e.manager.get('main-masked');
      expect(t.state).toBe('failed');
      expect(t.mask?.error).toMatch(/bad.sql failed/);
      expect(t.mask?.maskedBuild).not.toBe(t.mask?.build);
      const refused = await e.manager.start('main-masked').catch((x) => x);
      expect(refused).toMatchObject({ status: 409 });
      expect(refused.message).toMatch(/main-masked is a masked template and is not masked \(its masking failed: bad.sql failed/);
      expect(e.manager.get('main-masked').state).toBe('failed');
      await expect(e.manager.create({ name: 'qa-2', parent: 'main-masked' })).rejects.toMatchObject({ status: 409 });
      await expect(e.manager.reset('main-masked', { force: true })).rejects.toMatchObject({ status: 409 });
      expect(e.manager.find('qa-2')).toBeUndefined();

      e = await e.reopen({ templates: [{ name: 'main-masked', from: 'main', sql: [MASK] }] });
      const fixed = e.manager.get('main-masked');
      expect({ state: fixed.state, error: fixed.error }).toEqual({ state: 'ready', error: undefined });
      expect(fixed.mask?.maskedBuild).toBe(fixed.mask?.build);
      await e.manager.create({ name: 'qa-3', parent: 'main-masked' });
      expect((await grepPii(dirOf(e, 'qa-3'), pii)).found.size).toBe(0);
    });
  });
});
