import { it } from 'vitest';
import { openTestEngine, sql } from './helpers/engine-harness.ts';
import { connectionInfo } from '../src/agent/branches/connection.ts';
it('times creates', async () => {
  const e = await openTestEngine('ctime', { capturePollMs: 0 });
  try {
    await sql(
      connectionInfo(e.manager.get('main'), '127.0.0.1').uri,
      'CREATE TABLE t (id int primary key, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1,1000) g',
    );
    const ms: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      await e.manager.create({ name: `b${i}` });
      ms.push(Math.round(performance.now() - t0));
    }
    console.log('create ms', ms.join(' '));
  } finally {
    await e.destroy();
  }
}, 120000);
