import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Branch } from '../../src/core/types.ts';
import type { CliIo, OutStream } from '../../src/cli/io.ts';
import { main } from '../../src/cli/index.ts';

/** A request as the fake agent saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  authorization?: string;
  body?: unknown;
}

export type Reply = { status: number; body?: unknown };
export type Route = (req: SeenRequest) => Reply | Promise<Reply>;

/**
 * A stand-in for the agent's HTTP API on a local port: routes keyed by "METHOD /path" (query
 * ignored), every request recorded. Unit tests of the CLI only; the agent's own suites run it for real.
 */
export async function startFakeAgent(routes: Record<string, Route>) {
  const requests: SeenRequest[] = [];
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- node:http ignores the promise; errors end the test
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      authorization: req.headers.authorization,
      body: raw ? JSON.parse(raw) : undefined,
    };
    requests.push(seen);
    const route = routes[`${seen.method} ${seen.url.split('?')[0]}`];
    const reply = route
      ? await route(seen)
      : { status: 404, body: { error: { code: 'not_found', message: `no route ${seen.method} ${seen.url}` } } };
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
