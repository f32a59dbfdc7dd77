/**
 * Agent restart with many branches, most of them stopped: builds N branches of a small parent
 * (R of them left running), then restarts the agent twice on the same data dir and times each
 * start until the API listens: once with the branch postgres processes still running (an agent
 * restart: they are adopted) and once after killing them all (a host reboot: running ones start).
 * Needs root (loop-mounted btrfs pool) and btrfs-progs.
 *
 *   node bench/restart.ts [--branches 300] [--running 30] [--ports 28000] [--keep]
 */
import { mkdtemp, chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../src/agent/config.ts';
import { startAgent } from '../src/agent/server.ts';
import type { RunningAgent } from '../src/agent/server.ts';
import { processesUnder, kill, alive } from '../src/agent/postgres/processes.ts';
import { adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import { progress } from './lib/progress.ts';

interface Args {
  branches: number;
  running: number;
  ports: number;
  keep: boolean;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { branches: 300, running: 30, ports: 28000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a whole number`);
      return n;
    };
    if (flag === '--branches') a.branches = num();
    else if (flag === '--running') a.running = num();
    else if (flag === '--ports') a.ports = num();
    else if (flag === '--keep') a.keep = true;
    else throw new Error(`unknown flag ${flag}\nusage: node bench/restart.ts [--branches 300] [--running 30] [--ports 28000] [--keep]`);
  }
  return a;
}

async function start(dataDir: string, cfgFile: string): Promise<{ agent: RunningAgent; ms: number }> {
  const cfg = loadConfig({ file: cfgFile, env: {}, flags: {} });
  const t0 = performance.now();
  const agent = await startAgent(cfg, { env: { VELA_ADMIN_TOKEN: 'bench-admin-token-0123456789' } });
  return { agent, ms: performance.now() - t0 };
}

function counts(agent: RunningAgent): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of agent.engine.manager.list()) out[r.state] = (out[r.state] ?? 0) + 1;
  return out;
}

async function killAllPostgres(dataDir: string): Promise<void> {
  const procs = await processesUnder(dataDir);
  for (const p of procs) kill(p.pid, 'SIGKILL');
  for (const p of procs) for (let i = 0; i < 200 && alive(p.pid); i++) await new Promise((r) => setTimeout(r, 10));
}

const args = parse(process.argv.slice(2));
const dataDir = await mkdtemp(join('/var/tmp', 'vela-bench-restart-'));
await chmod(dataDir, 0o755);
const cfgFile = join(dataDir, 'agent.yml');
await writeFile(
  cfgFile,
  [
    `dataDir: ${dataDir}`,
    'listen: 127.0.0.1:0',
    'storage: btrfs',
    `ports: { from: ${args.ports}, to: ${args.ports + args.branches + 50} }`,
    'pool: { sizeGiB: 16 }',
    'logLevel: warn',
  ].join('\n'),
);
let agent: RunningAgent | null = null;
try {
  ({ agent } = await start(dataDir, cfgFile));
  const admin = await adminClient(agent.engine, 'main', 'postgres');
  await admin.query('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g');
  await admin.end();
  const t0 = performance.now();
  for (let i = 0; i < args.branches; i++) {
    const name = `b-${String(i).padStart(3, '0')}`;
    await agent.engine.lifecycle.create({ name });
    if (i >= args.running) await agent.engine.manager.stop(name);
    if ((i + 1) % 50 === 0) progress(`${i + 1}/${args.branches} branches (${Math.round((performance.now() - t0) / 1000)} s)`);
  }
  const before = counts(agent);
  progress(`built: ${JSON.stringify(before)}`);

  const results: { scenario: string; ms: number; states: Record<string, number> }[] = [];
  // An agent restart: branch postgres keeps running and is adopted.
  await agent.close();
  const r1 = await start(dataDir, cfgFile);
  agent = r1.agent;
  results.push({ scenario: 'agent restart (postgres kept running, adopted)', ms: r1.ms, states: counts(agent) });
  // A host reboot: nothing runs; the running ones are started again, the stopped ones stay stopped.
  await agent.close();
  await killAllPostgres(dataDir);
  const r2 = await start(dataDir, cfgFile);
  agent = r2.agent;
  results.push({ scenario: 'after a host reboot (every postgres killed, running ones restarted)', ms: r2.ms, states: counts(agent) });

  process.stdout.write(`\nRestart with ${args.branches} branches (${args.running} running), parent of 10k rows\n`);
  process.stdout.write(`built: ${JSON.stringify(before)}\n`);
  for (const r of results) {
    const lost = args.branches + 1 - Object.values(r.states).reduce((a, b) => a + b, 0);
    process.stdout.write(`${r.scenario}: ${(r.ms / 1000).toFixed(2)} s, states ${JSON.stringify(r.states)}, lost ${lost}\n`);
  }
} finally {
  await agent?.close().catch(() => {});
  if (!args.keep) await destroyBenchDir(dataDir);
  else progress(`kept ${dataDir}`);
}
