/**
 * Why a branch of a busy parent costs what it costs: the ways to get a consistent copy of a running
 * postgres on btrfs, side by side under one pgbench load. Not the agent's code path (`bench/scale`
 * measures that): each strategy is done by hand on a parent of its own, so the ones the agent does
 * not use can be measured too.
 *
 *   checkpoint      CHECKPOINT, snapshot, child crash recovery (what the agent does)
 *   replay          snapshot at once; the child replays from the parent's last checkpoint
 *   promote         CHECKPOINT, snapshot, child starts as a standby and is promoted
 *                   (no synchronous end-of-recovery checkpoint; a new timeline)
 *   replay-promote  both
 *
 * Then CHECKPOINT alone on an ext4 pool under the same load: is the cost btrfs' or postgres'?
 *
 * usage: sudo node bench/create-strategies.ts [--pairs 3] [--scale 70] [--load-seconds 5] [--rate 850]
 */
import { appendFile, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { processRunner as run } from '../src/agent/runner.ts';
import { resolveBinaries } from '../src/agent/postgres/binaries.ts';
import { resolvePostgresUser } from '../src/agent/postgres/os-user.ts';
import { findPgbench, killAllPgbench, pgbenchInit, startPgbench } from './lib/pgbench.ts';
import { progress } from './lib/progress.ts';
import { median } from './lib/stats.ts';

const STRATEGIES = ['checkpoint', 'replay', 'promote', 'replay-promote'] as const;
type Strategy = (typeof STRATEGIES)[number];
type Phases = { redoMB: number; checkpoint: number; snapshot: number; start: number; promote: number; total: number };

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number`);
  return v;
};
const opts = { pairs: arg('pairs', 3), scale: arg('scale', 70), loadSeconds: arg('load-seconds', 5), rate: arg('rate', 850) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (process.getuid?.() !== 0) throw new Error('run as root: the bench loop-mounts its own pools');
const bins = await resolveBinaries(run, null);
const user = (await resolvePostgresUser(run, 'vela', progress))!;
const pgbench = await findPgbench();
const root = await mkdtemp('/var/tmp/vela-strategies-');
await chmod(root, 0o755); // the postgres OS user goes through it
const as = { uid: user.uid, gid: user.gid };
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => void cleanUp().finally(() => process.exit(130)));
}

/** A loop-mounted pool of `fs` with a postgres of ~`scale` pgbench units on `port`, the settings branches get. */
async function parent(fs: 'btrfs' | 'ext4', port: number): Promise<{ pool: string; data: string; client: pg.Client; uri: string }> {
  const pool = join(root, fs);
  await run(['mkdir', '-p', pool]);
  await run(['truncate', '-s', '20G', `${pool}.img`]);
  await run(fs === 'btrfs' ? ['mkfs.btrfs', '-q', `${pool}.img`] : ['mkfs.ext4', '-q', `${pool}.img`]);
  await run(['mount', '-o', 'loop,nosuid,nodev', `${pool}.img`, pool]);
  const data = join(pool, 'main');
  await run(fs === 'btrfs' ? ['btrfs', '-q', 'subvolume', 'create', data] : ['mkdir', data]);
  await run(['chown', `${user.uid}:${user.gid}`, pool, data]);
  await run(['chmod', '700', data]);
  await run([bins.initdb, '-D', data, '-U', 'postgres', '-A', 'trust'], as);
  if (fs === 'btrfs') await run(['chattr', '+C', join(data, 'pg_wal')]);
  await appendFile(join(data, 'postgresql.conf'), conf(port));
  await run([bins.pgCtl, 'start', '-w', '-D', data, '-l', join(pool, 'main.log')], as);
  const uri = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  progress(`${fs}: pgbench -i -s ${opts.scale}`);
  await pgbenchInit(pgbench, uri, opts.scale);
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  return { pool, data, client, uri };
}

function conf(port: number): string {
  return [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    "shared_buffers = '16MB'",
    "max_wal_size = '256MB'",
    "min_wal_size = '32MB'",
    'wal_recycle = off',
    'wal_level = logical',
    'log_checkpoints = on',
    '',
  ].join('\n');
}

/** `seconds` of pgbench on a freshly checkpointed parent, then `measure` while it still runs. */
async function underLoad<T>(
  p: { client: pg.Client; uri: string },
  seconds: number,
  measure: () => Promise<T>,
): Promise<{ value: T; tps: number | null }> {
  await p.client.query('CHECKPOINT');
  await sleep(2000);
  if (seconds === 0) return { value: await measure(), tps: null };
  const job = startPgbench(pgbench, p.uri, { clients: 2, seconds: seconds + 4, rate: opts.rate });
  await sleep(seconds * 1000);
  const value = await measure();
  const r = await job.done;
  if (r.errors) throw new Error(`pgbench: ${r.problem}`);
  return { value, tps: r.tps };
}

async function branch(p: { pool: string; data: string; client: pg.Client }, s: Strategy, port: number): Promise<Phases> {
  const child = join(p.pool, 'child');
  const t = [performance.now()];
  const redo = await p.client.query<{ d: string }>('SELECT (pg_current_wal_lsn() - redo_lsn)::bigint AS d FROM pg_control_checkpoint()');
  if (!s.startsWith('replay')) await p.client.query('CHECKPOINT');
  t.push(performance.now());
  await run(['btrfs', '-q', 'subvolume', 'snapshot', p.data, child]);
  t.push(performance.now());
  await rm(join(child, 'postmaster.pid'));
  await appendFile(join(child, 'postgresql.auto.conf'), `port = ${port}\n`);
  const promote = s.endsWith('promote');
  if (promote) {
    await writeFile(join(child, 'standby.signal'), '');
    await run(['chown', `${user.uid}:${user.gid}`, join(child, 'standby.signal')]);
  }
  await run([bins.pgCtl, 'start', '-W', '-D', child, '-l', join(p.pool, 'child.log')], as);
  const c = await connectSoon(port);
  t.push(performance.now());
  if (promote) {
    await c.query('SELECT pg_promote(false)');
    while ((await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0].r) await sleep(3);
  }
  t.push(performance.now());
  await c.end();
  await run([bins.pgCtl, 'stop', '-m', 'immediate', '-D', child], as);
  await run(['btrfs', '-q', 'subvolume', 'delete', child]);
  await run(['btrfs', '-q', 'subvolume', 'sync', p.pool]); // the next create does not meet the cleaner
  const d = (i: number) => Math.round(t[i] - t[i - 1]);
  return {
    redoMB: Math.round(Number(redo.rows[0].d) / 1048576),
    checkpoint: d(1),
    snapshot: d(2),
    start: d(3),
    promote: d(4),
    total: Math.round(t[4] - t[0]),
  };
}

async function connectSoon(port: number): Promise<pg.Client> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    try {
      await c.connect();
      return c;
    } catch (err) {
      await c.end().catch(() => {});
      if (Date.now() > deadline) throw err;
      await sleep(3);
    }
  }
}

const mid = (rows: Phases[], k: keyof Phases) => Math.round(median(rows.map((r) => r[k])));

try {
  const btrfs = await parent('btrfs', 54901);
  const rows: string[] = [];
  for (const s of STRATEGIES) {
    const idle: Phases[] = [];
    const busy: Phases[] = [];
    const tps: number[] = [];
    for (let i = 1; i <= opts.pairs; i++) {
      idle.push((await underLoad(btrfs, 0, () => branch(btrfs, s, 54902))).value);
      const r = await underLoad(btrfs, opts.loadSeconds, () => branch(btrfs, s, 54902));
      busy.push(r.value);
      if (r.tps) tps.push(r.tps);
      progress(`${s} ${i}/${opts.pairs}: idle ${idle.at(-1)!.total} ms, under pgbench ${r.value.total} ms ${JSON.stringify(r.value)}`);
    }
    const cell = (k: keyof Phases) => `${mid(idle, k)} / ${mid(busy, k)}`;
    rows.push(
      `| ${s} | ${cell('redoMB')} | ${cell('checkpoint')} | ${cell('snapshot')} | ${cell('start')} | ${cell('promote')} | ${cell('total')} | ${(mid(busy, 'total') / mid(idle, 'total')).toFixed(2)}x | ${Math.round(median(tps))} |`,
    );
  }
  await btrfs.client.end();
  const ext4 = await parent('ext4', 54903);
  const ckpt: number[] = [];
  for (let i = 0; i < opts.pairs; i++) {
    const r = await underLoad(ext4, opts.loadSeconds, async () => {
      const t0 = performance.now();
      await ext4.client.query('CHECKPOINT');
      return performance.now() - t0;
    });
    ckpt.push(r.value);
  }
  await ext4.client.end();
  console.log(
    `\ncreate strategies, ${opts.pairs} pairs, parent ~${opts.scale * 15} MB under pgbench -c 2 -R ${opts.rate} for ${opts.loadSeconds} s; ms medians, idle / under load\n`,
  );
  console.log('| strategy | redo MB | checkpoint | snapshot | start | promote | total | loaded/idle | parent tps |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log(`\next4 pool, same load: CHECKPOINT alone ${Math.round(median(ckpt))} ms (median of ${ckpt.map(Math.round).join(', ')})`);
} finally {
  await cleanUp();
}

/** Postgres stopped, pools unmounted, the bench dir gone: also on Ctrl-C. */
async function cleanUp(): Promise<void> {
  killAllPgbench();
  for (const fs of ['btrfs', 'ext4']) {
    const pool = join(root, fs);
    for (const d of ['child', 'main'])
      await run([bins.pgCtl, 'stop', '-m', 'immediate', '-D', join(pool, d)], { ...as, allowFailure: true });
    await run(['umount', pool], { allowFailure: true });
  }
  await rm(root, { recursive: true, force: true });
}
