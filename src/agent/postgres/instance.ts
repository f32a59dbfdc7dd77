import { chown, mkdir, open, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { Runner } from '../runner.ts';
import { CommandFailedError } from '../runner.ts';
import type { PgBinaries } from './binaries.ts';
import type { OsUser } from './os-user.ts';
import { alive } from './processes.ts';

export interface BranchSettings {
  name: string;
  port: number;
  listen: string;
  sharedBuffers: string;
  maxConnections: number;
  workMem: string;
}

export const SUPERUSER = 'postgres';
const VELA_CONF = 'vela.conf';
const INCLUDE_LINE = `include_if_exists = '${VELA_CONF}'\t# vela-branch: per-branch port, socket and memory`;

/** Socket paths are limited to 107 bytes; fall back to a short directory under /tmp for deep data dirs. */
export function socketRootFor(dataDir: string): string {
  const preferred = join(dataDir, 'run');
  if (preferred.length <= 80) return preferred;
  return join('/tmp', `vela-${createHash('sha256').update(dataDir).digest('hex').slice(0, 10)}`);
}

export class PostgresStartError extends Error {
  readonly logTail: string;
  constructor(message: string, logTail: string) {
    super(message);
    this.name = 'PostgresStartError';
    this.logTail = logTail;
  }
}

/** Runs one postgres cluster per branch through pg_ctl, as the unprivileged OS user when the agent is root. */
export class PostgresControl {
  readonly bins: PgBinaries;
  private readonly user: OsUser | null;
  private readonly run: Runner;
  readonly socketRoot: string;
  readonly logDir: string;

  constructor(opts: { bins: PgBinaries; user: OsUser | null; runner: Runner; socketRoot: string; logDir: string }) {
    this.bins = opts.bins;
    this.user = opts.user;
    this.run = opts.runner;
    this.socketRoot = opts.socketRoot;
    this.logDir = opts.logDir;
  }

  private get as() {
    return this.user ? { uid: this.user.uid, gid: this.user.gid } : {};
  }

  /** Environment for pg_ctl/initdb: the embedded build finds its libraries next to its binaries. */
  private env(): NodeJS.ProcessEnv {
    const lib = join(this.bins.dir, '..', 'lib');
    return { PATH: process.env.PATH, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', LD_LIBRARY_PATH: lib, TZ: 'UTC' };
  }

  socketDir(port: number): string {
    return join(this.socketRoot, String(port));
  }

  logFile(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  async ensureDirs(): Promise<void> {
    for (const dir of [this.socketRoot, this.logDir]) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await this.own(dir, 0o755);
    }
  }

  private async own(path: string, mode: number): Promise<void> {
    if (this.user) await chown(path, this.user.uid, this.user.gid);
    await chmod(path, mode);
  }

  private async writeOwned(path: string, text: string): Promise<void> {
    await writeFile(path, text, { mode: 0o600 });
    await this.own(path, 0o600);
  }

  async initdb(dataDir: string): Promise<void> {
    await this.run(
      [
        this.bins.initdb,
        '-D',
        dataDir,
        '-U',
        SUPERUSER,
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
      ],
      { ...this.as, env: this.env() },
    );
    const conf = join(dataDir, 'postgresql.conf');
    await this.writeOwned(conf, `${await readFile(conf, 'utf8')}\n${INCLUDE_LINE}\n`);
  }

  /** Per-branch settings, rewritten on every create/reset so a snapshot never keeps its parent's port. */
  /** Makes sure postgresql.conf includes vela.conf (clusters from pg_basebackup bring the source's). */
  async ensureInclude(dataDir: string): Promise<void> {
    const conf = join(dataDir, 'postgresql.conf');
    const text = await readFile(conf, 'utf8');
    if (!text.includes(`include_if_exists = '${VELA_CONF}'`)) await this.writeOwned(conf, `${text}\n${INCLUDE_LINE}\n`);
  }

  async configure(dataDir: string, s: BranchSettings, opts: { standby?: boolean } = {}): Promise<void> {
    const socketDir = this.socketDir(s.port);
    // Only called with no postmaster on this data dir: a socket or lock file left here is stale
    // (a postgres killed with -9) and would make the new one refuse to start.
    await rm(socketDir, { recursive: true, force: true });
    await mkdir(socketDir, { recursive: true });
    await this.own(socketDir, 0o700);
    const lines = [
      `# written by vela-branch for branch ${s.name}; rewritten on every create and reset`,
      `port = ${s.port}`,
      `listen_addresses = '${s.listen.replace(/'/g, '')}'`,
      `unix_socket_directories = '${socketDir}'`,
      'unix_socket_permissions = 0700',
      `cluster_name = 'vela-${s.name}'`,
      `shared_buffers = '${s.sharedBuffers}'`,
      `work_mem = '${s.workMem}'`,
      "maintenance_work_mem = '32MB'",
      "max_wal_size = '256MB'",
      "min_wal_size = '32MB'",
      'max_parallel_workers_per_gather = 1',
      // A hot standby must keep these at least as high as its primary's: leave the source's values.
      ...(opts.standby
        ? ['hot_standby = on']
        : [`max_connections = ${s.maxConnections}`, 'max_worker_processes = 4', 'max_parallel_workers = 2']),
      "password_encryption = 'scram-sha-256'",
      'logging_collector = off',
      'log_min_messages = warning',
      'log_checkpoints = off',
      'huge_pages = off',
    ];
    await this.writeOwned(join(dataDir, VELA_CONF), lines.join('\n') + '\n');
  }

  /** `open=false` refuses every TCP login: used until the branch's fresh passwords are in place. */
  async writeHba(dataDir: string, open: boolean): Promise<void> {
    const lines = ['# written by vela-branch', 'local all all trust', 'local replication all trust'];
    if (open) {
      lines.push('host all all 0.0.0.0/0 scram-sha-256', 'host all all ::/0 scram-sha-256');
      lines.push('host replication all 0.0.0.0/0 scram-sha-256', 'host replication all ::/0 scram-sha-256');
    } else {
      lines.push('host all all 0.0.0.0/0 reject', 'host all all ::/0 reject');
    }
    await this.writeOwned(join(dataDir, 'pg_hba.conf'), lines.join('\n') + '\n');
  }

  /** What a snapshot of a running (or standby) parent carries that the child must not. */
  async clearRuntimeFiles(dataDir: string): Promise<void> {
    for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal', 'backup_label.old']) {
      await rm(join(dataDir, f), { force: true });
    }
    // A branch of a standby is promoted: drop the upstream's connection string (and its password).
    const auto = join(dataDir, 'postgresql.auto.conf');
    const text = await readFile(auto, 'utf8').catch(() => null);
    if (text && /^\s*primary_(conninfo|slot_name)\s*=/m.test(text)) {
      await this.writeOwned(
        auto,
        text
          .split('\n')
          .filter((l) => !/^\s*primary_(conninfo|slot_name)\s*=/.test(l))
          .join('\n'),
      );
    }
  }

  /**
   * `pg_ctl start -W` and our own 5 ms poll of postmaster.pid: `pg_ctl -w` polls every 100 ms,
   * which was half of a branch's create time.
   */
  async start(name: string, dataDir: string, timeoutMs = 60_000): Promise<void> {
    const log = this.logFile(name);
    await writeFile(log, '', { flag: 'a', mode: 0o600 });
    await this.own(log, 0o600);
    // Only what this start writes matters; the log keeps growing over the branch's life.
    const before = (await stat(log)).size;
    const fail = async (fallback: string) => {
      const tail = (await readSince(log, before)).trim().split('\n').slice(-5).join('\n');
      return new PostgresStartError(`postgres for branch ${name} failed to start: ${firstErrorLine(tail || fallback)}`, tail);
    };
    await rm(join(dataDir, 'postmaster.pid'), { force: true }).catch(() => {});
    try {
      await this.run([this.bins.pgCtl, 'start', '-W', '-s', '-D', dataDir, '-l', log], { ...this.as, env: this.env() });
    } catch (err) {
      throw await fail(err instanceof CommandFailedError ? err.stderr.trim() : (err as Error).message);
    }
    const started = Date.now();
    const deadline = started + timeoutMs;
    let seenPid = false;
    while (Date.now() < deadline) {
      const status = await this.postmasterStatus(dataDir);
      if (status === 'ready' || status === 'standby') return;
      if (status === 'dead' && seenPid) throw await fail('postgres exited during startup');
      if (status !== 'absent') seenPid = true;
      if (status === 'absent') {
        // A postmaster that dies before writing postmaster.pid (bad config) only tells its log.
        if (/\b(FATAL|PANIC):/.test(await readSince(log, before))) throw await fail('postgres exited during startup');
        if (Date.now() > started + 10_000) throw await fail('postgres exited before it wrote postmaster.pid');
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw await fail(`not ready after ${Math.round(timeoutMs / 1000)} s`);
  }

  /** Reads the postmaster status line (PM_STATUS) of postmaster.pid. */
  private async postmasterStatus(dataDir: string): Promise<'absent' | 'dead' | 'starting' | 'ready' | 'standby' | 'stopping'> {
    const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
    if (text === null) return 'absent';
    const lines = text.split('\n');
    const pid = Number(lines[0]);
    if (!Number.isInteger(pid) || pid <= 0) return 'starting';
    if (!alive(pid)) return 'dead';
    const st = (lines[7] ?? '').trim();
    return st === 'ready' || st === 'standby' || st === 'stopping' ? st : 'starting';
  }

  /** The last lines of a branch's postgres log (to explain a failure after start). */
  async logTail(name: string, lines = 20): Promise<string> {
    const text = await readFile(this.logFile(name), 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-lines).join('\n');
  }

  async stop(dataDir: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const before = await this.pid(dataDir);
    if (!before) return;
    await this.run([this.bins.pgCtl, 'stop', '-w', '-t', '60', '-s', '-m', mode, '-D', dataDir], {
      ...this.as,
      env: this.env(),
      allowFailure: true,
    });
    // pg_ctl returns once postmaster.pid is gone; the process itself exits a moment later.
    await waitFor(async () => !alive(before), 5_000, 5);
    const pid = await this.pid(dataDir);
    if (pid) {
      // pg_ctl gave up: make sure nothing of this branch keeps running.
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
      await waitFor(async () => !(await this.pid(dataDir)), 10_000);
    }
  }

  /** The postmaster's pid when it is alive, from postmaster.pid. */
  async pid(dataDir: string): Promise<number | null> {
    const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => null);
    if (!text) return null;
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    if (!alive(pid)) return null;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(dataDir) ? pid : null;
  }

  /** Superuser SQL over the unix socket; `superuser` differs from "postgres" for replicas of other clusters. */
  async withClient<T>(
    target: number | { port: number; superuser?: string },
    fn: (c: pg.Client) => Promise<T>,
    database = 'postgres',
  ): Promise<T> {
    const { port, superuser } = typeof target === 'number' ? { port: target, superuser: undefined } : target;
    const client = new pg.Client({ host: this.socketDir(port), port, user: superuser ?? SUPERUSER, database });
    client.on('error', () => {});
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** The text a file gained after byte `offset` (empty when it is missing). */
async function readSince(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return '';
  try {
    const size = (await fh.stat()).size;
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    await fh.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

/** The lines of a postgres log that say why it stopped: the reason, then the FATAL that followed. */
function firstErrorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, '').trim());
  const telling = lines.filter((l) => /FATAL|PANIC|invalid value|could not|No space/i.test(l));
  return (telling.length ? telling.slice(-2).join(' | ') : (lines[lines.length - 1] ?? '')).slice(0, 500);
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
