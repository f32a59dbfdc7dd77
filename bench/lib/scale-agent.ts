import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, writeFile, appendFile, statfs, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentClient } from '../../src/core/client.ts';
import { loadConfig } from '../../src/agent/config.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { TRASH_DIR, uncleanedSubvolumes } from '../../src/agent/storage/btrfs-trash.ts';

const BIN = fileURLToPath(new URL('../../bin/vela-branch.js', import.meta.url));
const TOKEN = 'scale-bench-admin-token-0123456789abcdef';

export interface AgentPorts {
  api: number;
  proxy: number;
  branches: { from: number; to: number };
}

export interface ScaleAgentOptions {
  ports: AgentPorts;
  poolGiB: number;
  /** capacity.maxRunning of the agent (null: no limit). */
  maxRunning: number | null;
  /** branch.quota (null: the agent's default). */
  quota: string | null;
  /** Where the agent's own output goes (kept after the run for a failure's postmortem). */
  logFile: string;
}

/**
 * A real `vela-branch agent` process on its own loop-mounted btrfs pool, driven through its HTTP
 * API like any client. Idle suspend is off (the bench stops branches itself, through the API).
 */
export class ScaleAgent {
  readonly dataDir: string;
  readonly client: AgentClient;
  readonly proxy: boolean;
  private readonly opts: ScaleAgentOptions;
  private readonly cfgFile: string;
  private proc: ChildProcess | null = null;

  private constructor(dataDir: string, opts: ScaleAgentOptions, proxy: boolean) {
    this.dataDir = dataDir;
    this.opts = opts;
    this.proxy = proxy;
    this.cfgFile = join(dataDir, 'agent.yml');
    this.client = new AgentClient({ url: `http://127.0.0.1:${opts.ports.api}`, token: TOKEN, userAgent: 'vela-scale-bench' });
  }

  static async create(opts: ScaleAgentOptions): Promise<ScaleAgent> {
    const dataDir = await mkdtemp(join('/var/tmp', 'vela-scale-'));
    await chmod(dataDir, 0o755); // the postgres OS user must reach the pool
    const agent = new ScaleAgent(dataDir, opts, false);
    const proxy = await agent.writeConfig(true).then(
      () => true,
      () => false,
    );
    if (!proxy) await agent.writeConfig(false);
    return proxy ? new ScaleAgent(dataDir, opts, true) : agent;
  }

  /** Writes agent.yml; with `proxy`, fails when this agent version has no `proxy.listen` key. */
  private async writeConfig(proxy: boolean): Promise<void> {
    const { ports, poolGiB, maxRunning, quota } = this.opts;
    const yaml = [
      `ports: { from: ${ports.branches.from}, to: ${ports.branches.to} }`,
      `pool: { sizeGiB: ${poolGiB} }`,
      'idle: { suspendAfter: 0 }',
      `capacity: { maxRunning: ${maxRunning ?? 'null'} }`,
      ...(quota ? [`branch: { quota: ${JSON.stringify(quota)} }`] : []),
      'logLevel: info', // each create's log line says where its time went
      ...(proxy ? [`proxy: { listen: "127.0.0.1:${ports.proxy}" }`] : []),
    ].join('\n');
    await writeFile(this.cfgFile, yaml + '\n');
    loadConfig({ file: this.cfgFile, env: {}, flags: {} }); // throws on a key this agent does not know
  }

  /** Starts the agent process; resolves with the ms until it listens. */
  async start(): Promise<number> {
    const t0 = performance.now();
    const proc = spawn(
      process.execPath,
      [
        BIN,
        'agent',
        '--data-dir',
        this.dataDir,
        '--listen',
        `127.0.0.1:${this.opts.ports.api}`,
        '--storage',
        'btrfs',
        '--config',
        this.cfgFile,
      ],
      { env: { ...process.env, VELA_ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    let tail = '';
    const log = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
      void appendFile(this.opts.logFile, d).catch(() => {});
    };
    proc.stdout.on('data', log);
    proc.stderr.on('data', log);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent did not listen within 120 s:\n${tail}`)), 120_000);
      const check = () => {
        if (!tail.includes('vela agent listening on')) return;
        clearTimeout(timer);
        proc.stderr.off('data', check);
        resolve();
      };
      proc.stderr.on('data', check);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`agent exited with ${code} during start:\n${tail}`));
      });
    });
    return performance.now() - t0;
  }

  /** SIGTERM and wait: in-flight requests finish, branches keep running (adopted by the next start). */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
  }

  /** The pool's bytes in use (statfs of the mounted btrfs image). */
  async poolUsedBytes(): Promise<number> {
    const s = await statfs(join(this.dataDir, 'pool'));
    return (s.blocks - s.bfree) * s.bsize;
  }

  /** Deleted volumes not freed yet: waiting in the agent's trash, and deleted but not yet cleaned by btrfs. */
  async unfreed(): Promise<{ trash: number; cleaning: number }> {
    const trash = await readdir(join(this.dataDir, 'pool', 'vols', TRASH_DIR)).catch(() => []);
    return { trash: trash.length, cleaning: await uncleanedSubvolumes(processRunner, join(this.dataDir, 'pool')) };
  }

  volumePath(name: string): string {
    return join(this.dataDir, 'pool', 'vols', name);
  }

  describe(): string {
    return `agent on :${this.opts.ports.api}${this.proxy ? `, proxy on :${this.opts.ports.proxy}` : ' (no proxy.listen in this agent version)'}, data dir ${this.dataDir}`;
  }
}
