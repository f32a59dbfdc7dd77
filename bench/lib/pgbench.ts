import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { processRunner } from '../../src/agent/runner.ts';
import { findNewestTool } from './pg-tools.ts';

/** Debian's pgbench first (the reference figures), else the newest one found. */
export async function findPgbench(): Promise<string> {
  const debian = '/usr/lib/postgresql/15/bin/pgbench';
  if (existsSync(debian)) return debian;
  const tool = await findNewestTool('pgbench');
  if (!tool) throw new Error('pgbench not found: apt-get install postgresql-client (or postgresql-contrib) and try again');
  return tool.path;
}

/** libpq environment for a connection URI, so the password never shows in an argv (ps) or a log. */
export function libpqEnv(uri: string): NodeJS.ProcessEnv {
  const u = new URL(uri);
  return {
    ...process.env,
    PGHOST: u.hostname.replace(/^\[|\]$/g, ''),
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    PGSSLMODE: u.searchParams.get('sslmode') ?? 'prefer',
    PGCONNECT_TIMEOUT: '30',
  };
}

/** pgbench -i at `scale` (~15 MB a unit) into the database the URI names. */
export async function pgbenchInit(bin: string, uri: string, scale: number): Promise<void> {
  await processRunner([bin, '-i', '-q', '-s', String(scale)], { env: libpqEnv(uri), timeoutMs: 3_600_000 });
}

export interface PgbenchRun {
  tps: number | null;
  transactions: number;
  /** Failed transactions plus 1 when pgbench itself failed (exit code, a client aborted). */
  errors: number;
  /** First stderr line of a failure, for the report. */
  problem: string | null;
}

export interface PgbenchJob {
  done: Promise<PgbenchRun>;
  kill(): void;
}

const running = new Set<ChildProcess>();

/** Any pgbench still running (a Ctrl-C mid-phase): the bench kills them before it removes the pool. */
export function killAllPgbench(): void {
  for (const p of running) p.kill('SIGKILL');
}

/** A timed pgbench run in the background: `clients` connections, `rate` tps in all (0: as fast as it goes). */
export function startPgbench(bin: string, uri: string, p: { clients: number; seconds: number; rate: number }): PgbenchJob {
  const argv = ['-n', '-c', String(p.clients), '-j', String(Math.min(p.clients, 2)), '-T', String(p.seconds)];
  if (p.rate > 0) argv.push('-R', String(p.rate));
  const child = spawn(bin, argv, { env: libpqEnv(uri), stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    if (err.length < 16_384) err += d.toString();
  });
  const done = new Promise<PgbenchRun>((resolve) => {
    child.on('error', (e) => resolve({ tps: null, transactions: 0, errors: 1, problem: e.message }));
    child.on('close', (code) => {
      running.delete(child);
      const tps = /tps = ([\d.]+)/.exec(out);
      const tx = /number of transactions actually processed: (\d+)/.exec(out);
      const failed = /number of failed transactions: (\d+)/.exec(out);
      const errors = Number(failed?.[1] ?? 0) + (code === 0 ? 0 : 1);
      const problem = errors
        ? (err
            .trim()
            .split('\n')
            .find((l) => /error|fatal|abort/i.test(l)) ?? `pgbench exited with ${code}`)
        : null;
      resolve({ tps: tps ? Number(tps[1]) : null, transactions: Number(tx?.[1] ?? 0), errors, problem });
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}
