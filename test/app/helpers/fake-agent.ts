import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBranchBody, patchBranchBody } from '../../../src/core/schemas.ts';
import { parseDuration } from '../../../src/core/durations.ts';
import type { Branch } from '../../../src/core/types.ts';

export const FAKE_PASSWORD_PREFIX = 'fake-secret-';

/**
 * In-memory stand-in for the host agent, speaking its v1 HTTP API over a real socket
 * (so the app's AgentClient, fetch and error handling are exercised as in production).
 */
export class FakeAgent {
  readonly branches = new Map<string, Branch>();
  readonly calls: string[] = [];
  private server: Server | null = null;
  private gate: Promise<void> | null = null;
  private nextPort = 6500;
  private readonly token: string;
  private readonly now: () => Date;

  constructor(opts: { token: string; now?: () => Date }) {
    this.token = opts.token;
    this.now = opts.now ?? (() => new Date());
    this.branches.set('main', this.makeBranch('main', null, null, {}));
  }

  /** Listens on 127.0.0.1 (on `port`, or any free one) and returns the agent URL. */
  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Makes branch creation wait until the returned function is called (a slow clone). */
  holdCreates(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = null;
      release();
    };
  }

  /** Names of branches other than main. */
  prBranches(): string[] {
    return [...this.branches.keys()].filter((n) => n !== 'main').sort();
  }

  countCalls(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }

  private makeBranch(name: string, parent: string | null, ttl: string | null, labels: Record<string, string>): Branch {
    const now = this.now();
    const port = this.nextPort++;
    const password = `${FAKE_PASSWORD_PREFIX}${name}`;
    return {
      name,
      parent,
      state: 'ready',
      host: 'db.example.internal',
      port,
      database: 'app',
      user: `u_${name.replace(/-/g, '_')}`,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      expiresAt: ttl ? new Date(now.getTime() + parseDuration(ttl)!).toISOString() : null,
      protected: name === 'main',
      labels,
      storage: { driver: 'btrfs', exclusiveBytes: 16384 },
      timings: { createMs: 42 },
      connection: {
        host: 'db.example.internal',
        port,
        database: 'app',
        user: `u_${name.replace(/-/g, '_')}`,
        password,
        uri: `postgresql://u_${name.replace(/-/g, '_')}:${password}@db.example.internal:${port}/app`,
      },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    this.calls.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string) => send(status, { error: { code, message } });
    if (req.headers.authorization !== `Bearer ${this.token}`) return fail(401, 'unauthorized', 'missing or wrong token');

    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body: unknown = raw ? JSON.parse(raw) : undefined;
    const strip = ({ connection: _c, ...b }: Branch) => b;
    const m = url.pathname.match(/^\/v1\/branches(?:\/([^/]+)(?:\/(reset|rebase|diff))?)?$/);
    if (!m) return fail(404, 'not_found', 'no such route');
    const [, name, verb] = m;

    if (!name && req.method === 'GET') return send(200, { branches: [...this.branches.values()].map(strip) });
    if (!name && req.method === 'POST') {
      if (this.gate) await this.gate;
      const parsed = createBranchBody.safeParse(body);
      if (!parsed.success) return fail(400, 'bad_request', parsed.error.issues[0].message);
      const b = parsed.data;
      const existing = this.branches.get(b.name);
      if (existing) {
        if (b.ifExists === 'fail') return fail(409, 'conflict', `branch ${b.name} exists`);
        return send(200, { branch: existing, created: false });
      }
      const parent = b.parent ?? 'main';
      if (!this.branches.has(parent)) return fail(404, 'not_found', `parent ${parent} does not exist`);
      const branch = this.makeBranch(b.name, parent, b.ttl ?? null, b.labels ?? {});
      this.branches.set(b.name, branch);
      return send(201, { branch, created: true });
    }

    const branch = name ? this.branches.get(name) : undefined;
    if (!branch) return fail(404, 'not_found', `branch ${name} does not exist`);
    if (!verb && req.method === 'GET') return send(200, branch);
    if (!verb && req.method === 'PATCH') {
      const parsed = patchBranchBody.safeParse(body);
      if (!parsed.success) return fail(400, 'bad_request', parsed.error.issues[0].message);
      if (parsed.data.ttl !== undefined) {
        branch.expiresAt = parsed.data.ttl === null ? null : new Date(this.now().getTime() + parseDuration(parsed.data.ttl)!).toISOString();
      }
      if (parsed.data.labels) branch.labels = parsed.data.labels;
      branch.updatedAt = this.now().toISOString();
      return send(200, branch);
    }
    if (!verb && req.method === 'DELETE') {
      this.branches.delete(branch.name);
      return send(200, { deleted: [branch.name] });
    }
    if (verb === 'reset' && req.method === 'POST') {
      branch.timings = { ...branch.timings, resetMs: 1500 };
      branch.updatedAt = this.now().toISOString();
      return send(200, branch);
    }
    if (verb === 'rebase' && req.method === 'POST') {
      return send(409, {
        error: {
          code: 'conflict',
          message: 'rebase stopped at the first conflict',
          conflicts: ['table users: column email changed in both'],
        },
      });
    }
    if (verb === 'diff' && req.method === 'GET') {
      return send(200, { sql: 'ALTER TABLE users ADD COLUMN nickname text;', summary: ['1 column added'] });
    }
    return fail(405, 'method_not_allowed', `${req.method} not allowed here`);
  }
}
