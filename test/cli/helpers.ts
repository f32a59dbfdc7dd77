import type { Branch } from '../../src/core/api/index.ts';
import type { CliIo, OutStream } from '../../src/cli/io.ts';
import { main } from '../../src/cli/index.ts';

export function captureStream(isTTY = false): OutStream & { text: () => string } {
  let buf = '';
  return {
    isTTY,
    write(chunk: string) {
      buf += chunk;
      return true;
    },
    text: () => buf,
  };
}

/** Runs main() with captured output; `io` overrides anything (env, cwd, spawn, now…). */
export async function runCli(argv: string[], io: Partial<CliIo> & { ttyStderr?: boolean } = {}) {
  const stdout = captureStream();
  const stderr = captureStream(io.ttyStderr ?? false);
  const code = await main(argv, {
    cwd: '/nonexistent-vela-test-dir',
    ...io,
    env: { ...io.env },
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

export const NOW = Date.parse('2025-11-25T12:00:00Z');
export const PASSWORD = 'pw-Sup3rSecret-9f3a';

export function branchFixture(overrides: Partial<Branch> = {}): Branch {
  const name = overrides.name ?? 'pr-1';
  return {
    name,
    parent: 'main',
    state: 'ready',
    host: '127.0.0.1',
    port: 55001,
    database: 'app',
    user: 'app',
    createdAt: new Date(NOW - 3 * 60_000).toISOString(),
    updatedAt: new Date(NOW - 60_000).toISOString(),
    expiresAt: new Date(NOW + 7 * 86_400_000 - 3_600_000).toISOString(),
    protected: false,
    labels: { repo: 'acme/shop', pr: '1' },
    storage: { driver: 'btrfs', exclusiveBytes: 1_572_864 },
    timings: { createMs: 142 },
    connection: {
      host: '127.0.0.1',
      port: 55001,
      database: 'app',
      user: 'app',
      password: PASSWORD,
      uri: `postgresql://app:${PASSWORD}@127.0.0.1:55001/app`,
    },
    ...overrides,
  };
}
