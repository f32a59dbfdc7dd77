import { readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import pg from 'pg';
import type { Runner } from '../runner.ts';
import { CommandFailedError } from '../runner.ts';
import type { PgBinaries } from './binaries.ts';
import type { OsUser } from './os-user.ts';
import { alive, kill, processesUnder } from './processes.ts';
import { SafeFiles } from './safe-files.ts';
import { agentOsUser, hbaText, identText } from './hba.ts';

export interface BranchSettings {
  name: string;
  port: number;
  listen: string;
  sharedBuffers: string;
  maxConnections: number;
  workMem: string;
}

export const SUPERUSER = 'postgres';
/** Every connection the agent makes to a branch says so, so idle suspend does not count it as a client. */
export const AGENT_APPLICATION_NAME = 'vela-agent';
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
  /** Every write, chown and removal in a branch's data, socket and log paths goes through this. */
  readonly files: SafeFiles;
  private readonly tls: { certFile: string; keyFile: string } | null;
  /** Who the agent is to peer authentication on a branch's socket. */
  readonly agentOsUser = agentOsUser();

  constructor(opts: {
    bins: PgBinaries;
    user: OsUser | null;
    runner: Runner;
    socketRoot: string;
    logDir: string;
    /** Server certificate and key for ssl=on (none: plain TCP only, for tools that run no branch). */
    tls?: { certFile: string; keyFile: string } | null;
  }) {
    this.bins = opts.bins;
    this.user = opts.user;
    this.run = opts.runner;
    this.socketRoot = opts.socketRoot;
    this.logDir = opts.logDir;
    this.files = new SafeFiles({ user: opts.user, runner: opts.runner });
    this.tls = opts.tls ?? null;
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

  /** Both root's (0755): the postgres user gets only its own socket dirs and log files inside. */
  async ensureDirs(): Promise<void> {
    for (const dir of [this.socketRoot, this.logDir]) await this.files.dir(dir, 'root', 0o755);
  }

  /** A file in a branch's data dir, owned by the postgres user, never written through a link. */
  writeDataFile(dataDir: string, name: string, text: string): Promise<void> {
    return this.files.replace(join(dataDir, name), text);
  }

  /** A regular file of the data dir (null when missing or planted as anything else). */
  private async readDataFile(dataDir: string, name: string): Promise<string> {
    const text = await this.files.read(join(dataDir, name));
    if (text === null) throw new Error(`${name} in ${dataDir} is missing or not a regular file`);
    return text;
  }

  removeSocketDir(port: number): Promise<void> {
    return this.files.removeTree(this.socketDir(port));
  }

  removeLog(name: string): Promise<void> {
    return this.files.removeTree(this.logFile(name));
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
        // Never trust: the agent's own hba (peer for it alone) replaces this before the first start.
        '--auth-local=reject',
        '--auth-host=reject',
      ],
      { ...this.as, env: this.env() },
    );
    const text = await this.readDataFile(dataDir, 'postgresql.conf');
    await this.writeDataFile(dataDir, 'postgresql.conf', `${text}\n${INCLUDE_LINE}\n`);
    await this.writeHba(dataDir, { superuser: SUPERUSER, open: false });
  }

  /** Per-branch settings, rewritten on every create/reset so a snapshot never keeps its parent's port. */
  /** Makes sure postgresql.conf includes vela.conf (clusters from pg_basebackup bring the source's). */
  async ensureInclude(dataDir: string): Promise<void> {
    const text = await this.readDataFile(dataDir, 'postgresql.conf');
    if (!text.includes(`include_if_exists = '${VELA_CONF}'`)) {
      await this.writeDataFile(dataDir, 'postgresql.conf', `${text}\n${INCLUDE_LINE}\n`);
    }
  }

  async configure(dataDir: string, s: BranchSettings, opts: { standby?: boolean } = {}): Promise<void> {
    const socketDir = this.socketDir(s.port);
    // Only called with no postmaster on this data dir: a socket or lock file left here is stale
    // (a postgres killed with -9) and would make the new one refuse to start.
    await this.files.removeTree(socketDir);
    await this.files.dir(socketDir, 'postgres', 0o700);
    const lines = [
      `# written by vela-branch for branch ${s.name}; rewritten on every create and reset`,
      `port = ${s.port}`,
      `listen_addresses = '${s.listen.replace(/'/g, '')}'`,
      `unix_socket_directories = '${socketDir}'`,
      'unix_socket_permissions = 0700',
      // The agent's own hba and ident files, whatever a source's postgresql.conf pointed at.
      `hba_file = '${join(dataDir, 'pg_hba.conf').replace(/'/g, "''")}'`,
      `ident_file = '${join(dataDir, 'pg_ident.conf').replace(/'/g, "''")}'`,
      `cluster_name = 'vela-${s.name}'`,
      `shared_buffers = '${s.sharedBuffers}'`,
      `work_mem = '${s.workMem}'`,
      "maintenance_work_mem = '32MB'",
      "max_wal_size = '256MB'",
      "min_wal_size = '32MB'",
      // Old segments are deleted, not renamed for reuse: recommended on copy-on-write storage, and a
      // recycled segment would keep old records (a masked template's old values) in its tail.
      'wal_recycle = off',
      'max_parallel_workers_per_gather = 1',
      // A hot standby must keep these at least as high as its primary's: leave the source's values.
      ...(opts.standby
        ? ['hot_standby = on']
        : [
            `max_connections = ${s.maxConnections}`,
            'max_worker_processes = 4',
            'max_parallel_workers = 2',
            // Change capture: one logical slot per branch, read over SQL by the agent (capture/).
            'wal_level = logical',
            'max_replication_slots = 10',
            'max_wal_senders = 10',
            // A slot nobody drains (agent down for long) is invalidated before it fills the disk.
            "max_slot_wal_keep_size = '4GB'",
          ]),
      "password_encryption = 'scram-sha-256'",
      'logging_collector = off',
      'log_min_messages = warning',
      'log_checkpoints = off',
      'huge_pages = off',
      ...(this.tls
        ? [
            'ssl = on',
            `ssl_cert_file = '${this.tls.certFile}'`,
            `ssl_key_file = '${this.tls.keyFile}'`,
            "ssl_min_protocol_version = 'TLSv1.2'",
          ]
        : []),
    ];
    await this.writeDataFile(dataDir, VELA_CONF, lines.join('\n') + '\n');
  }

  /**
   * pg_hba.conf and pg_ident.conf (see hba.ts): the superuser only over the socket, only for the
   * agent's OS user; TCP refuses every superuser and, until `open`, everyone.
   */
  async writeHba(dataDir: string, p: { superuser?: string; superusers?: string[]; open: boolean; restoreOsUser?: string }): Promise<void> {
    const policy = {
      superuser: p.superuser ?? SUPERUSER,
      superusers: p.superusers ?? [],
      agentOsUser: this.agentOsUser,
      open: p.open,
      restoreOsUser: p.restoreOsUser,
    };
    await this.writeDataFile(dataDir, 'pg_ident.conf', identText(policy));
    await this.writeDataFile(dataDir, 'pg_hba.conf', hbaText(policy));
  }

  /** What a snapshot of a running (or standby) parent carries that the child must not. */
  async clearRuntimeFiles(dataDir: string): Promise<void> {
    for (const f of ['postmaster.pid', 'postmaster.opts', 'standby.signal', 'recovery.signal', 'backup_label.old']) {
      await this.files.removeTree(join(dataDir, f));
    }
    // A branch of a standby is promoted: drop the upstream's connection string (and its password).
    const text = await this.files.read(join(dataDir, 'postgresql.auto.conf'));
    if (text && /^\s*primary_(conninfo|slot_name)\s*=/m.test(text)) {
      await this.writeDataFile(
        dataDir,
        'postgresql.auto.conf',
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
    // Only what this start writes matters; the log keeps growing over the branch's life.
    const before = await this.files.logFile(log);
    const fail = async (fallback: string) => {
      const tail = (await this.files.readSince(log, before)).trim().split('\n').slice(-5).join('\n');
      return new PostgresStartError(`postgres for branch ${name} failed to start: ${firstErrorLine(tail || fallback)}`, tail);
    };
    await this.files.removeTree(join(dataDir, 'postmaster.pid')).catch(() => {});
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
        if (/\b(FATAL|PANIC):/.test(await this.files.readSince(log, before))) throw await fail('postgres exited during startup');
        if (Date.now() > started + 10_000) throw await fail('postgres exited before it wrote postmaster.pid');
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw await fail(`not ready after ${Math.round(timeoutMs / 1000)} s`);
  }

  /** Reads the postmaster status line (PM_STATUS) of postmaster.pid. */
  private async postmasterStatus(dataDir: string): Promise<'absent' | 'dead' | 'starting' | 'ready' | 'standby' | 'stopping'> {
    const text = await this.files.read(join(dataDir, 'postmaster.pid'));
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
    const text = (await this.files.read(this.logFile(name))) ?? '';
    return text.trim().split('\n').slice(-lines).join('\n');
  }

  async stop(dataDir: string, mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const fromFile = await this.pid(dataDir);
    const before = fromFile ?? (await this.postmasterByScan(dataDir));
    if (!before) return;
    if (fromFile) {
      // -W and our own 5 ms poll of the postmaster: `pg_ctl stop -w` polls every 100 ms, which was
      // most of a stop, and a wake that has to suspend another branch first waits for one.
      await this.run([this.bins.pgCtl, 'stop', '-W', '-s', '-m', mode, '-D', dataDir], {
        ...this.as,
        env: this.env(),
        allowFailure: true,
      });
      await waitFor(async () => !alive(before), 60_000, 5);
    } else {
      // postmaster.pid was replaced from inside the branch, so pg_ctl cannot stop it: signal it ourselves.
      kill(before, mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      await waitFor(async () => !alive(before), 60_000, 5);
    }
    if (alive(before)) {
      // Shutdown gave up: make sure nothing of this branch keeps running.
      kill(before, 'SIGQUIT');
      await waitFor(async () => !alive(before), 10_000);
    }
  }

  /** The postmaster of `dataDir` by its command line (`postgres -D dataDir`), owned by the postgres user. */
  private async postmasterByScan(dataDir: string): Promise<number | null> {
    for (const p of await processesUnder(dirname(dataDir))) {
      if (!p.argv.includes(dataDir) || !/(^|\/)postgres$/.test(p.argv[0] ?? '') || !alive(p.pid)) continue;
      if (this.user && (await stat(`/proc/${p.pid}`).catch(() => null))?.uid !== this.user.uid) continue;
      return p.pid;
    }
    return null;
  }

  /** The postmaster's pid when it is alive, from postmaster.pid. */
  async pid(dataDir: string): Promise<number | null> {
    const text = await this.files.read(join(dataDir, 'postmaster.pid'));
    if (!text) return null;
    const pid = Number(text.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return null;
    if (!alive(pid)) return null;
    // postmaster.pid is the branch's to write: only a process of the postgres user is taken for its postmaster.
    if (this.user && (await stat(`/proc/${pid}`).catch(() => null))?.uid !== this.user.uid) return null;
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
    const client = new pg.Client({
      host: this.socketDir(port),
      port,
      user: superuser ?? SUPERUSER,
      database,
      application_name: AGENT_APPLICATION_NAME,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
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
