/**
 * Wake-on-connect through the postgres proxy: stop a branch, then time connect + first query of a
 * client through the proxy (which starts the branch while holding the client). Beside it, in the
 * same run: the same client on the running branch through the proxy and direct, so the proxy's own
 * cost and the start's cost read as ratios. Needs root (loop-mounted btrfs pool) and btrfs-progs.
 *
 *   node bench/proxy-wake.ts [--runs 30] [--keep]
 */
import pg from 'pg';
import { parseArgs } from 'node:util';
import { openBenchEngine, adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import { percentile, median } from './lib/stats.ts';
import { progress } from './lib/progress.ts';
import { PgProxy } from '../src/agent/proxy/proxy.ts';
import { lifecycleWaker } from '../src/agent/proxy/wake.ts';
import { loadConfig } from '../src/agent/config.ts';
import { connectionInfo } from '../src/agent/branches/connection.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' }, keep: { type: 'boolean', default: false } } });
const runs = Number(values.runs);

const be = await openBenchEngine('proxy-wake', { from: 38800, to: 38899 });
const { engine } = be;
const proxy = new PgProxy({
  listen: { host: '127.0.0.1', port: 0 },
  tls: engine.tls,
  waker: lifecycleWaker(engine),
  branchHost: '127.0.0.1',
  maxClients: 100,
  loginFailures: loadConfig({ env: {}, flags: {} }).proxy.loginFailures,
  log: () => {},
});
try {
  const { port } = await proxy.start();
  const admin = await adminClient(engine, 'main', 'postgres');
  await admin.query('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g');
  await admin.end();
  const { record } = await engine.lifecycle.create({ name: 'wake-bench' });
  const viaProxy = connectionInfo(record, { host: '127.0.0.1', proxyPort: port }).uri.replace('sslmode=require', 'sslmode=no-verify');
  const direct = connectionInfo(record, '127.0.0.1').uri.replace('sslmode=require', 'sslmode=no-verify');

  const connectAndQuery = async (uri: string): Promise<number> => {
    const t0 = performance.now();
    const c = new pg.Client({ connectionString: uri });
    await c.connect();
    await c.query('SELECT count(*) FROM t');
    const ms = performance.now() - t0;
    await c.end();
    return ms;
  };

  const wake: number[] = [];
  const warmProxy: number[] = [];
  const warmDirect: number[] = [];
  const startOnly: number[] = [];
  for (let i = 0; i < runs; i++) {
    // The start alone (what the lifecycle does for the proxy), then the whole wake through the proxy.
    await engine.manager.stop('wake-bench');
    const t0 = performance.now();
    await engine.lifecycle.wake('wake-bench');
    startOnly.push(performance.now() - t0);
    await engine.manager.stop('wake-bench');
    wake.push(await connectAndQuery(viaProxy));
    warmProxy.push(await connectAndQuery(viaProxy));
    warmDirect.push(await connectAndQuery(direct));
    progress(`run ${i + 1}/${runs}: wake ${wake[i].toFixed(0)} ms`);
  }
  const row = (label: string, s: number[]) =>
    `${label.padEnd(44)} p50 ${median(s).toFixed(1).padStart(7)} ms   p99 ${percentile(s, 99).toFixed(1).padStart(7)} ms   max ${Math.max(
      ...s,
    )
      .toFixed(1)
      .padStart(7)} ms`;
  process.stdout.write(
    [
      `wake-on-connect through the proxy, ${runs} runs (TLS, SCRAM, connect + first query), ${new Date().toISOString()}`,
      row('stopped branch, via proxy (wake)', wake),
      row('start alone (lifecycle.wake, no client)', startOnly),
      row('running branch, via proxy', warmProxy),
      row('running branch, direct port', warmDirect),
      `proxy overhead on a running branch: ${(median(warmProxy) / median(warmDirect)).toFixed(2)}x direct; wake: ${(median(wake) / median(warmDirect)).toFixed(1)}x direct`,
      '',
    ].join('\n'),
  );
} finally {
  await proxy.close();
  if (!values.keep) await destroyBenchDir(be.dataDir, engine);
}
