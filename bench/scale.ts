/**
 * Hundreds of branches of one ~1 GB parent on one host, through the real agent's HTTP API (issue 14):
 * create latency as the count grows, wake-on-connect of stopped branches (rotating `--running` at a
 * time under pgbench through all of them), memory per running idle branch, pool bytes, errors,
 * create with the parent idle vs under pgbench, and an agent restart with every branch on it.
 * Needs root (a loop-mounted btrfs pool) and btrfs-progs; pgbench from Debian's postgresql-client.
 *
 *   node bench/scale.ts [--branches 300] [--size-gb 1] [--running 30] [--step 50] …   (--help for all)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseScaleArgs, pgbenchScale } from './lib/scale-args.ts';
import type { ScaleArgs } from './lib/scale-args.ts';
import { ScaleAgent } from './lib/scale-agent.ts';
import { findPgbench, pgbenchInit, killAllPgbench } from './lib/pgbench.ts';
import { createBranches, rotationRound, nextGroup, loadedVsIdle, restartAgent, queryOnce, quietParent } from './lib/scale-phases.ts';
import type { ScaleState, CreateSample, WakeSample } from './lib/scale-phases.ts';
import type { BranchMemory } from './lib/branch-memory.ts';
import { stepRow, scaleChecks, renderScale, scaleChart } from './lib/scale-report.ts';
import type { ScaleResults, StepRow } from './lib/scale-report.ts';
import { writeChart } from './lib/svg-plot.ts';
import { destroyBenchDir } from './lib/bench-engine.ts';
import { progress } from './lib/progress.ts';

let agent: ScaleAgent | null = null;
let keep = false;
let aborting = false;

async function cleanup(): Promise<void> {
  killAllPgbench();
  const a = agent;
  agent = null;
  if (!a) return;
  await a.stop().catch(() => {});
  if (keep) progress(`kept ${a.dataDir} (--keep): remove it with umount ${a.dataDir}/pool && rm -rf ${a.dataDir}`);
  else await destroyBenchDir(a.dataDir);
}

async function databaseBytes(uri: string): Promise<number> {
  const rows = await queryOnce<{ b: string }>(uri, 'SELECT pg_database_size(current_database()) AS b');
  return Number(rows[0].b);
}

const pad = (i: number) => `scale-${String(i).padStart(4, '0')}`;

async function run(args: ScaleArgs, a: ScaleAgent): Promise<ScaleResults> {
  const s: ScaleState = { agent: a, pgbench: await findPgbench(), uris: new Map(), woken: new Map(), errors: [] };
  progress(`starting ${a.describe()}`);
  await a.start();
  const main = await a.client.get('main');
  if (!main.connection) throw new Error('GET /v1/branches/main gave no connection info');
  const mainUri = main.connection.uri;
  const scale = pgbenchScale(args.sizeGb);
  progress(`step 1/5: pgbench -i -s ${scale} on main (~${args.sizeGb} GB)`);
  const t0 = performance.now();
  await pgbenchInit(s.pgbench, mainUri, scale);
  const parentBytes = await databaseBytes(mainUri);
  progress(`  main holds ${(parentBytes / 1e9).toFixed(2)} GB after ${Math.round((performance.now() - t0) / 1000)} s`);

  const rate = args.parentRate ? `at ${args.parentRate} tps` : 'unthrottled';
  progress(`step 2/5: create with main idle vs under pgbench (${args.parentClients} clients ${rate}), ${args.loadPairs} pairs`);
  const pairs = await loadedVsIdle(s, mainUri, args.loadPairs, { clients: args.parentClients, rate: args.parentRate });

  progress(`step 3/5: ${args.branches} branches, ${args.step} at a time; after each step ${args.running} wake and run pgbench`);
  await quietParent(s); // step 2 measured creates under load; these measure the branch count
  const unfreed = await a.unfreed();
  progress(`  deleted volumes not freed yet: ${unfreed.trash} in the agent's trash, ${unfreed.cleaning} being cleaned by btrfs`);
  const creates: CreateSample[] = [];
  const wakes: WakeSample[] = [];
  const memory: BranchMemory[] = [];
  const steps: StepRow[] = [];
  const load = { seconds: args.pgbenchSeconds, rate: args.branchRate };
  for (let made = 0; made < args.branches;) {
    const names = Array.from({ length: Math.min(args.step, args.branches - made) }, (_, k) => pad(made + k + 1));
    const batch = await createBranches(s, names, made);
    made += names.length;
    creates.push(...batch);
    const round = await rotationRound(s, nextGroup(s, args.running), made, load);
    wakes.push(...round.wakes);
    memory.push(...round.memory);
    steps.push(stepRow(batch, round.wakes, made, await a.poolUsedBytes()));
    const last = steps[steps.length - 1];
    progress(
      `  ${made} branches: create p50 ${Math.round(last.createP50 ?? 0)} ms p99 ${Math.round(last.createP99 ?? 0)} ms; ` +
        `${round.wakes.length} wakes p50 ${Math.round(last.wakeP50 ?? 0)} ms p99 ${Math.round(last.wakeP99 ?? 0)} ms; ${s.errors.length} errors`,
    );
  }

  progress(`step 4/5: rotating through the branches never woken yet, ${args.running} at a time`);
  const lastWakes: WakeSample[] = wakes.filter((w) => w.count === args.branches);
  while ([...s.woken.values()].some((n) => n === 0)) {
    const round = await rotationRound(s, nextGroup(s, args.running), args.branches, load);
    wakes.push(...round.wakes);
    lastWakes.push(...round.wakes);
    memory.push(...round.memory);
    const left = [...s.woken.values()].filter((n) => n === 0).length;
    progress(`  ${round.wakes.length} wakes, ${left} branches never woken yet; ${s.errors.length} errors`);
  }
  if (steps.length) {
    const last = steps[steps.length - 1];
    steps[steps.length - 1] = stepRow(
      creates.filter((c) => c.count > args.branches - args.step),
      lastWakes,
      last.branches,
      await a.poolUsedBytes(),
    );
  }

  progress(`step 5/5: agent restart with ${args.branches + 1} branches (all stopped but main)`);
  const restart = await restartAgent(s);
  progress(
    `  back in ${Math.round(restart.ms)} ms, ${restart.branchesAfter}/${restart.branchesBefore} branches, lost ${restart.lost.length}`,
  );
  return {
    creates,
    wakes,
    steps,
    memory,
    pairs,
    restart,
    errors: s.errors.length + restart.lost.length + restart.notServing.length,
    wakeMode: a.proxy ? 'proxy' : 'api-start',
    poolUsedBytes: await a.poolUsedBytes(),
    parentBytes,
  };
}

async function main(): Promise<void> {
  const args = parseScaleArgs(process.argv.slice(2));
  keep = args.keep;
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: it loop-mounts a btrfs pool image (run it with sudo)');
  const started = Date.now();
  const loadAtStart = loadavg()[0];
  await mkdir(dirname(args.out), { recursive: true });
  const base = args.portBase;
  agent = await ScaleAgent.create({
    ports: { api: base, proxy: base + 1, branches: { from: base + 2, to: base + 2 + args.branches + 50 } },
    poolGiB: Math.ceil(8 + args.sizeGb * 4 + args.branches * 0.1),
    maxRunning: args.running + 5,
    quota: args.quota,
    logFile: join(dirname(args.out), 'scale-agent.log'),
  });
  const results = await run(args, agent);
  const checks = scaleChecks(results);
  const cpu = cpus();
  const machine = `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Linux ${release()}`;
  const load = `load average ${loadAtStart.toFixed(2)} → ${loadavg()[0].toFixed(2)}`;
  const text = renderScale(results, checks);
  process.stdout.write(`\n${text}\n\n${machine}; ${load}; total ${Math.round((Date.now() - started) / 1000)} s\n`);
  const svg = args.out.replace(/\.json$/, '') + '.svg';
  const subtitle = `${args.branches} branches of a ${(results.parentBytes / 1e9).toFixed(2)} GB parent, ${args.running} at a time under pgbench; ${cpu.length} CPUs; ${load}`;
  const files = await writeChart(scaleChart(results, subtitle), svg, args.plot);
  const report = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine,
    load,
    options: args,
    results,
    checks,
    text,
  };
  await writeFile(args.out, JSON.stringify(report, null, 2) + '\n');
  progress(`wrote ${args.out}, ${files.join(', ')}`);
}

async function abort(signal: string): Promise<void> {
  aborting = true;
  progress(`${signal}: cleaning up`);
  await cleanup().catch(() => {});
  process.exit(130);
}
process.once('SIGINT', () => void abort('SIGINT'));
process.once('SIGTERM', () => void abort('SIGTERM'));

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (err: Error) => {
    if (aborting) return; // abort() cleans up and exits
    process.stderr.write(`bench failed: ${err.message}\n`);
    await cleanup().catch(() => {});
    process.exit(1);
  },
);
