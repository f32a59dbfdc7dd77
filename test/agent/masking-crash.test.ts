import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { destroyDataDir, makeDataDir, sql, testPortRange } from '../helpers/engine-harness.ts';
import { startSourceCluster } from '../helpers/source-cluster.ts';
import type { SourceCluster } from '../helpers/source-cluster.ts';
import { addPatients, grepPii, MASK_SQL } from '../helpers/pii.ts';
import { AgentClient } from '../../src/core/client.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';

// A second masking step that takes long enough to kill the agent inside it; mask.sql has committed by then.
const CONFIG = 'templates:\n  - { name: main-masked, from: main, sql: [mask.sql, slow.sql] }\n';

describeWithPool('kill -9 of the agent during a template masking (real agent process, PostgreSQL 15 source)', () => {
  let agent: TestAgent;
  let client: AgentClient;
  let src: SourceCluster;
  let pii: Set<string>;
  let dataDir: string | undefined;

  const volume = (name: string) => join(agent.dataDir, 'pool', 'vols', name);

  /** Starts a build, waits until the agent is inside the slow masking step, then kill -9 and restart. */
  async function killDuringMasking(start: () => Promise<unknown>): Promise<void> {
    const pending = start().catch(() => null);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const p = await client.request<{ phase: string }>('GET', '/v1/init/progress');
      if (p.phase.includes('masking (slow.sql)')) break;
      if (Date.now() > deadline) throw new Error(`never reached the masking step (phase: ${p.phase})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    await agent.kill('SIGKILL');
    await pending;
    agent = await agent.restart();
    client = new AgentClient({ url: agent.url, token: agent.token });
  }

  /** A new branch of main-masked: no PII value by SQL, and none in any byte of its data directory. */
  async function expectMaskedBranch(name: string): Promise<void> {
    const t = await client.get('main-masked');
    expect(t.state).toBe('ready'); // rebuilt through the masking path on start
    const { branch } = await client.create({ name, parent: 'main-masked' });
    const [row] = await sql<{ n: string; leaked: string }>(
      branch.connection!.uri,
      "SELECT (SELECT count(*) FROM customers) AS n, (SELECT count(*) FROM customers WHERE email LIKE '%@real-mail.example') + (SELECT count(*) FROM patients WHERE email LIKE '%@patients.example') AS leaked",
    );
    expect(row).toEqual({ n: '500', leaked: '0' });
    const { found, bytes } = await grepPii(volume(name), pii);
    expect(bytes).toBeGreaterThan(1_000_000);
    expect([...found].slice(0, 5)).toEqual([]);
  }

  beforeAll(async () => {
    dataDir = await makeDataDir('maskcrash');
    await writeFile(join(dataDir, 'mask.sql'), MASK_SQL);
    await writeFile(join(dataDir, 'slow.sql'), 'SELECT pg_sleep(4)');
    src = await startSourceCluster(dataDir, testPortRange().from + 90);
    pii = await addPatients(src);
    let apiPort = testPortRange().from + 95; // a port checked free: the default one may be any process' ephemeral port
    while (!(await portIsFree(apiPort))) apiPort++;
    agent = await startTestAgent({ tag: 'maskcrash', dataDir, config: CONFIG, apiPort });
    client = new AgentClient({ url: agent.url, token: agent.token, timeoutMs: 300_000 });
  });

  afterAll(async () => {
    await src?.stop().catch(() => {});
    // An agent that never started leaves the data dir (source cluster, pool) to us.
    if (agent) await agent.destroy();
    else if (dataDir) await destroyDataDir(dataDir);
  });

  it('killed during the first build of main-masked: the restart builds it masked; its branch holds no PII', async () => {
    await killDuringMasking(() => client.request('POST', '/v1/init', { mode: 'logical', sourceUrl: src.url }));
    expect(agent.output()).toMatch(/creating branch main-masked/);
    await expectMaskedBranch('qa-1');
    // The same grep on a branch of main finds the PII: the check above can fail.
    await client.create({ name: 'raw-1' });
    expect((await grepPii(volume('raw-1'), pii)).found.size).toBe(pii.size);
  });

  it('killed during a refresh of main-masked (masking SQL committed, scrub not run): never served unmasked', async () => {
    await src.sql("INSERT INTO customers(email, full_name) VALUES ('late@real-mail.example', 'Real Person 9999')");
    pii.add('late@real-mail.example').add('Real Person 9999');
    await killDuringMasking(() => client.request('POST', '/v1/branches/main/refresh', {}));
    expect(agent.output()).toMatch(/interrupted reset of main-masked/);
    const t = await client.get('main-masked');
    expect(t.state).toBe('ready');
    const { branch } = await client.create({ name: 'qa-2', parent: 'main-masked' });
    const [row] = await sql<{ n: string; leaked: string }>(
      branch.connection!.uri,
      "SELECT count(*) AS n, count(*) FILTER (WHERE email LIKE '%@real-mail.example') AS leaked FROM customers",
    );
    expect(row).toEqual({ n: '501', leaked: '0' });
    const { found } = await grepPii(volume('qa-2'), pii);
    expect([...found].slice(0, 5)).toEqual([]);
    // The branch made before the crash is untouched and still masked.
    expect((await grepPii(volume('qa-1'), pii)).found.size).toBe(0);
  });
});
