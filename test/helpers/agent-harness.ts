import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDataDir, destroyDataDir, testPortRange } from './engine-harness.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';

const BIN = fileURLToPath(new URL('../../bin/vela-branch.js', import.meta.url));

export interface TestAgent {
  url: string;
  /** Admin token (VELA_ADMIN_TOKEN of the agent process). */
  token: string;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the agent printed so far (stdout + stderr). */
  output(): string;
  /** kill -9 (or another signal) and wait for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start the agent again on the same data dir and port. */
  restart(): Promise<TestAgent>;
  /** Stop gracefully and remove the data dir, pool and every postgres. */
  destroy(): Promise<void>;
}

export interface TestAgentOptions {
  tag: string;
  /** YAML config text written to DIR/agent.yml (tokens, oidc, …). */
  config?: string;
  env?: NodeJS.ProcessEnv;
  dataDir?: string;
  apiPort?: number;
}

let apiPortSeq = 0;

/** A real `vela-branch agent` process on a real loop-mounted btrfs pool. */
export async function startTestAgent(opts: TestAgentOptions): Promise<TestAgent> {
  const dataDir = opts.dataDir ?? (await makeDataDir(opts.tag));
  const ports = testPortRange();
  let apiPort = opts.apiPort ?? 39000 + (Number(process.env.VITEST_POOL_ID ?? 1) % 16) * 40 + (apiPortSeq++ % 40);
  // Other checkouts run their agents on the same machine: skip ports someone already listens on.
  if (opts.apiPort === undefined) while (!(await portIsFree(apiPort))) apiPort = 39000 + ((apiPort - 39000 + 1) % 1000);
  const token = 'test-admin-token-0123456789abcdef';
  const cfgFile = join(dataDir, 'agent.yml');
  const yaml = [`ports: { from: ${ports.from}, to: ${ports.to} }`, 'pool: { sizeGiB: 8 }', opts.config ?? ''].join('\n');
  await writeFile(cfgFile, yaml);
  let out = '';
  const proc = spawn(
    process.execPath,
    [BIN, 'agent', '--data-dir', dataDir, '--listen', `127.0.0.1:${apiPort}`, '--storage', 'btrfs', '--config', cfgFile],
    {
      env: { ...process.env, VELA_ADMIN_TOKEN: token, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${apiPort}`;
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start in 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('vela agent listening on')) {
        clearTimeout(timer);
        proc.stderr.off('data', check);
        resolve();
      }
    };
    proc.stderr.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code} during start:\n${out}`));
    });
  });
  try {
    await started;
  } catch (err) {
    // A suite whose agent never came up has nothing to destroy in afterAll: clean up here.
    proc.kill('SIGKILL');
    if (!opts.dataDir) await destroyDataDir(dataDir);
    throw err;
  }
  const agent: TestAgent = {
    url,
    token,
    dataDir,
    proc,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await gone;
    },
    restart: () => startTestAgent({ ...opts, dataDir, apiPort }),
    async destroy() {
      await agent.kill('SIGTERM');
      await destroyDataDir(dataDir);
    },
  };
  return agent;
}
