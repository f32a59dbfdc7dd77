/**
 * Agent restart with many branches, most of them stopped: builds N branches of a small parent
 * (R of them left running), then restarts the agent twice on the same data dir and times each
 * start until the API listens: once with the branch postgres processes still running (an agent
 * restart: they are adopted) and once after killing them all (a host reboot: running ones start).
 * Needs root (loop-mounted btrfs pool) and btrfs-progs.
 *
 *   node bench/restart.ts [--branches 300] [--running 30] [--ports 28000] [--keep] [--reuse DIR]
 *
 * --keep leaves the data dir (and its postgres) for another run with --reuse DIR, which skips the build.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, chmod, readFile, writeFile } from 'node:fs/promises';
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
  reuse: string | null;
}

function parse(argv: readonly string[]): Args {
  const a: Args = { branches: 300, running: 30, ports: 28000, keep: false, reuse: null };
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
    else if (flag === '--reuse') a.reuse = argv[++i] ?? null;
    else
      throw new Error(
        `unknown flag ${flag}\nusage: node bench/restart.ts [--branches 300] [--running 30] [--ports 28000] [--keep] [--reuse DIR]`,
      );
  }
  return a;
}

async function start(dataDir: string, cfgFile: string): Promise<{ agent: RunningAgent; ms: number }> {
  const cfg = loadConfig({ file: cfgFile, env: {}, flags: {} });
  const t0 = performance.now();
  const agent = await startAgent(cfg, {
    env: { VELA_ADMIN_TOKEN: 'bench-admin-token-0123456789' },
    logDestination: createWriteStream(join(dataDir, 'bench-agent.log'), { flags: 'a' }),
  });
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

/** The engine's own account of its start-up (phases), from the agent log. */
async function lastEngineOpen(dataDir: string): Promise<string> {
  const lines = (await readFile(join(dataDir, 'bench-agent.log'), 'utf8')).split('\n').filter((l) => l.includes('engine open in'));
  return lines.length ? (JSON.parse(lines[lines.length - 1]) as { msg: string }).msg : '?';
}

async function build(agent: RunningAgent, args: Args): Promise<void> {
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
}

const args = parse(process.argv.slice(2));
const dataDir = args.reuse ?? (await mkdtemp(join('/var/tmp', 'vela-bench-restart-')));
await chmod(dataDir, 0o755);
const cfgFile = join(dataDir, 'agent.yml');
if (!args.reuse) {
  await writeFile(
    cfgFile,
    [
      `dataDir: ${dataDir}`,
      'listen: 127.0.0.1:0',
      'storage: btrfs',
      `ports: { from: ${args.ports}, to: ${args.ports + args.branches + 50} }`,
      'pool: { sizeGiB: 16 }',
      'logLevel: info',
      // The build takes minutes on a busy host: idle suspend would stop the ones meant to run.
      'idle: { suspendAfter: 0 }',
    ].join('\n'),
  );
}
let agent: RunningAgent | null = null;
try {
  ({ agent } = await start(dataDir, cfgFile));
  if (!args.reuse) await build(agent, args);
  const before = counts(agent);
  progress(`built: ${JSON.stringify(before)}`);

  const results: { scenario: string; ms: number; states: Record<string, number>; engine: string }[] = [];
  // An agent restart: branch postgres keeps running and is adopted.
  await agent.close();
  const r1 = await start(dataDir, cfgFile);
  agent = r1.agent;
  results.push({
    scenario: 'agent restart (postgres kept running, adopted)',
    ms: r1.ms,
    states: counts(agent),
    engine: await lastEngineOpen(dataDir),
  });
  // A host reboot: nothing runs; the running ones are started again, the stopped ones stay stopped.
  await agent.close();
  await killAllPostgres(dataDir);
  const r2 = await start(dataDir, cfgFile);
  agent = r2.agent;
  results.push({
    scenario: 'after a host reboot (every postgres killed, running ones restarted)',
    ms: r2.ms,
    states: counts(agent),
    engine: await lastEngineOpen(dataDir),
  });

  const total = Object.values(before).reduce((a, b) => a + b, 0);
  process.stdout.write(`\nRestart with ${total - 1} branches (${(before.ready ?? 1) - 1} running besides main), parent of 10k rows\n`);
  process.stdout.write(`before: ${JSON.stringify(before)}\n`);
  for (const r of results) {
    const lost = total - Object.values(r.states).reduce((a, b) => a + b, 0);
    process.stdout.write(`${r.scenario}: ${(r.ms / 1000).toFixed(2)} s, states ${JSON.stringify(r.states)}, lost ${lost}\n  ${r.engine}\n`);
  }
} finally {
  await agent?.close().catch(() => {});
  if (!args.keep) await destroyBenchDir(dataDir);
  else progress(`kept ${dataDir}`);
}
