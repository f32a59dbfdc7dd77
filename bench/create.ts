/**
 * Branch create vs the other ways to copy a PostgreSQL database, side by side in one run,
 * for parents of ~100 MB and ~1 GB. Needs root (loop-mounted btrfs pool) and btrfs-progs.
 *
 *   node bench/create.ts [--sizes 100,1000] [--runs 7] [--slow-runs 3] [--out bench/results/latest.json] [--keep]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem, release, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type pg from 'pg';
import { parseArgs } from './lib/args.ts';
import type { BenchArgs } from './lib/args.ts';
import { progress } from './lib/progress.ts';
import { openBenchEngine, adminClient, destroyBenchDir } from './lib/bench-engine.ts';
import type { BenchEngine } from './lib/bench-engine.ts';
import { SOURCE_DB, generate, rowCounts } from './lib/dataset.ts';
import type { Generated } from './lib/dataset.ts';
import { benchBranches } from './lib/branch-ops.ts';
import type { BranchSamples } from './lib/branch-ops.ts';
import { benchTemplate } from './lib/template-ops.ts';
import type { TemplateSamples } from './lib/template-ops.ts';
import { planLogicalCopy, benchLogical } from './lib/logical-copy.ts';
import type { LogicalPlan, LogicalSamples } from './lib/logical-copy.ts';
import { btrfsDu } from './lib/measure.ts';
import { summarize, median } from './lib/stats.ts';
import { renderTable, checks, renderChecks, sizeLabel } from './lib/report.ts';
import type { SizeResult, OpResult } from './lib/report.ts';

let openEngines: BenchEngine[] = [];
let keep = false;
let aborting = false;

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function op(label: string, samples: number[]): OpResult {
  return { label, samples: samples.map((s) => Math.round(s * 10) / 10), summary: summarize(samples) };
}

/** One generated parent: its own engine and pool, data in SOURCE_DB, an admin session on `postgres`. */
interface Parent {
  targetMB: number;
  be: BenchEngine;
  admin: pg.Client;
  mainDir: string;
  counts: Record<string, number>;
  gen: Generated;
  clusterOnDiskBytes: number;
  openDb: (db: string) => Promise<pg.Client>;
}

async function makeParent(targetMB: number, index: number): Promise<Parent> {
  const be = await openBenchEngine(`${targetMB}mb`, { from: 39000 + index * 100, to: 39099 + index * 100 });
  openEngines.push(be);
  const { engine } = be;
  const mainDir = engine.manager.storage.volumePath('main');
  const openDb = (db: string) => adminClient(engine, 'main', db);
  const admin = await openDb('postgres');
  await admin.query(`CREATE DATABASE ${SOURCE_DB}`);
  const src = await openDb(SOURCE_DB);
  const gen = await generate(src, targetMB * 1_000_000).finally(() => src.end());
  const counts = await openDb(SOURCE_DB).then(async (c) => rowCounts(c).finally(() => c.end()));
  const clusterOnDiskBytes = (await btrfsDu(mainDir)).totalBytes;
  progress(
    `  parent: ${SOURCE_DB} ${Math.round(gen.databaseBytes / 1e6)} MB in ${Math.round(gen.ms / 1000)} s; cluster on disk ${Math.round(clusterOnDiskBytes / 1e6)} MB`,
  );
  return { targetMB, be, admin, mainDir, counts, gen, clusterOnDiskBytes, openDb };
}

async function serverMajor(admin: pg.Client): Promise<number> {
  const v = (await admin.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0].v;
  return Math.floor(Number(v) / 10000);
}

async function runAll(args: BenchArgs): Promise<{ results: SizeResult[]; plan: LogicalPlan }> {
  const total = args.sizes.length * 4 + 1;
  let step = 0;
  const next = (what: string) => progress(`step ${++step}/${total}: ${what}`);
  const parents: Parent[] = [];
  try {
    for (const [i, size] of args.sizes.entries()) {
      next(`[${sizeLabel(size)}] generating the parent (${size} MB of rows and indexes in database ${SOURCE_DB})`);
      parents.push(await makeParent(size, i));
    }
    const plan = await planLogicalCopy(await serverMajor(parents[0].admin));

    next(`vela branch create / reset / delete x${args.runs} on each parent, taking turns`);
    const branches = await benchBranches(
      parents.map((p) => ({ label: sizeLabel(p.targetMB), engine: p.be.engine, expectedRows: p.counts })),
      args.runs,
    );

    const results: SizeResult[] = [];
    for (const [k, p] of parents.entries()) {
      const label = `[${sizeLabel(p.targetMB)}]`;
      const slow = p.targetMB >= 500 ? Math.min(args.runs, args.slowRuns) : args.runs;
      next(`${label} CREATE DATABASE … STRATEGY FILE_COPY, file_copy_method = clone x${args.runs}`);
      const clone = await benchTemplate(p.admin, p.mainDir, 'file_copy_clone', args.runs, p.counts, p.openDb);
      next(`${label} CREATE DATABASE … STRATEGY WAL_LOG x${slow}`);
      const walLog = await benchTemplate(p.admin, p.mainDir, 'wal_log', slow, p.counts, p.openDb);
      next(`${label} ${plan.label} x${slow}`);
      const main = p.be.engine.manager.get('main');
      const logical = await benchLogical(
        plan,
        p.admin,
        { socketDir: p.be.engine.pg.socketDir(main.port), port: main.port },
        slow,
        p.counts,
        p.openDb,
      );
      results.push(toResult(p, branches[k], clone, walLog, logical, plan));
    }
    return { results, plan };
  } finally {
    for (const p of parents) await p.admin.end().catch(() => {});
    for (const be of openEngines) {
      if (keep) progress(`kept ${be.dataDir} (--keep): remove it with umount ${be.dataDir}/pool && rm -rf ${be.dataDir}`);
      else await destroyBenchDir(be.dataDir, be.engine);
    }
    openEngines = [];
  }
}

function toResult(
  p: Parent,
  br: BranchSamples,
  clone: TemplateSamples,
  walLog: TemplateSamples,
  logical: LogicalSamples,
  plan: LogicalPlan,
): SizeResult {
  return {
    targetMB: p.targetMB,
    parent: {
      databaseBytes: p.gen.databaseBytes,
      clusterOnDiskBytes: p.clusterOnDiskBytes,
      events: p.gen.events,
      accounts: p.gen.accounts,
      generateMs: Math.round(p.gen.ms),
    },
    ops: {
      branchCreate: op('vela branch create (wall clock until a TCP login works)', br.createWallMs),
      branchCreateEngine: op('vela branch create (engine createMs)', br.createEngineMs),
      branchReset: op('vela branch reset', br.resetMs),
      branchDelete: op('vela branch delete', br.deleteMs),
      templateClone: op('CREATE DATABASE … STRATEGY FILE_COPY (file_copy_method=clone)', clone.ms),
      templateWalLog: op('CREATE DATABASE … STRATEGY WAL_LOG (default)', walLog.ms),
      logical: op(plan.label, logical.ms),
    },
    bytes: {
      branchExclusiveMedian: br.exclusiveBytes.length ? median(br.exclusiveBytes) : null,
      branchExclusiveMax: br.exclusiveBytes.length ? Math.max(...br.exclusiveBytes) : null,
      templateCloneExclusive: clone.exclusiveBytes,
      templateWalLogExclusive: walLog.exclusiveBytes,
      logicalStreamed: logical.streamedBytes,
    },
    pool: { usedBeforeBytes: br.poolUsedBefore, usedAfterDeletesBytes: br.poolUsedAfter },
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  keep = args.keep;
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root: it loop-mounts a btrfs pool image (run it with sudo)');
  const started = Date.now();
  // Other work on the host shows up in the timings (2 cores): record how busy it was.
  const loadAtStart = loadavg()[0];
  const { results, plan } = await runAll(args);

  const table = renderTable(results);
  const checkList = checks(results);
  const cpu = cpus();
  const machine = {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    storage: 'btrfs on a loop-mounted sparse image file (created by the engine)',
    loadAvg1m: { atStart: round2(loadAtStart), atEnd: round2(loadavg()[0]) },
  };
  process.stdout.write(`\n${table}\n\nchecks:\n${renderChecks(checkList)}\n`);
  process.stdout.write(
    `\n${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, Linux ${machine.kernel}; ${machine.storage}; load average ${machine.loadAvg1m.atStart} → ${machine.loadAvg1m.atEnd}; total ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
  const report = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine,
    options: { sizesMB: args.sizes, runs: args.runs, slowRuns: args.slowRuns },
    logicalCopy: { kind: plan.kind, label: plan.label },
    results,
    checks: checkList,
    table,
  };
  await mkdir(dirname(args.out), { recursive: true });
  await writeFile(args.out, JSON.stringify(report, null, 2) + '\n');
  progress(`wrote ${args.out}`);
}

async function abort(signal: string): Promise<void> {
  aborting = true;
  progress(`${signal}: cleaning up`);
  if (!keep) for (const be of openEngines) await destroyBenchDir(be.dataDir, be.engine).catch(() => {});
  process.exit(130);
}
process.once('SIGINT', () => void abort('SIGINT'));
process.once('SIGTERM', () => void abort('SIGTERM'));

main().then(
  () => process.exit(0),
  async (err: Error) => {
    if (aborting) return; // abort() cleans up and exits; the failure is only its side effect
    process.stderr.write(`bench failed: ${err.message}\n`);
    process.exit(1); // runAll's finally already removed the engines
  },
);
