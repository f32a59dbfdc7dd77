import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Branch } from '../../../src/core/types.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeAgentOptions {
  /** Bearer tokens the fake accepts. */
  tokens: string[];
  /** State a freshly created branch starts in; `creating` turns `ready` on the next GET. */
  createState?: 'ready' | 'creating';
  /** Rebase answers 409 with these conflicts when set. */
  rebaseConflicts?: unknown[];
  /** Every request answers 500 with this message (for cleanup-failure tests). */
  brokenWith?: string;
}

/**
 * A small in-memory stand-in for the agent's v1 HTTP API, for unit tests only; the real agent is
 * exercised by the end-to-end test. Passwords deliberately contain characters URL encoding changes.
 */
export class FakeAgent {
  readonly requests: RecordedRequest[] = [];
  readonly branches = new Map<string, Branch & { password: string }>();
  readonly opts: FakeAgentOptions;
  private server: Server | null = null;
  private seq = 0;
  url = '';

  constructor(opts: FakeAgentOptions) {
    this.opts = opts;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  passwordOf(name: string): string {
    return this.branches.get(name)!.password;
  }

  seed(name: string, patch: Partial<Branch> = {}): Branch {
    const b = this.makeBranch(name, null, {});
    Object.assign(b, patch);
    this.branches.set(name, b);
    return b;
  }

  private makeBranch(name: string, parent: string | null, labels: Record<string, string>): Branch & { password: string } {
    this.seq += 1;
    const password = `p@ss/w:rd+${this.seq}%Zx9`;
    const port = 55_000 + this.seq;
    return {
      name,
      parent: parent ?? 'main',
      state: this.opts.createState ?? 'ready',
      host: '127.0.0.1',
      port,
      database: 'app',
      user: `u_${name.replace(/-/g, '_')}`,
      createdAt: new Date(Date.now() - 3_600_000).toISOString(),
      updatedAt: new Date().toISOString(),
      expiresAt: null,
      protected: false,
      labels,
      storage: { driver: 'btrfs', exclusiveBytes: 16_384 },
      timings: { createMs: 120 },
      password,
    };
  }

  private view(b: Branch & { password: string }): Branch {
    const { password, ...rest } = b;
    const out: Branch = { ...rest };
    if (b.state === 'ready') {
      out.connection = {
        host: b.host,
        port: b.port,
        database: b.database,
        user: b.user,
        password,
        uri: `postgresql://${b.user}:${encodeURIComponent(password)}@${b.host}:${b.port}/${b.database}`,
      };
    }
    return out;
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization, body });
    const err = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) => ({
      status,
      body: { error: { code, message, ...extra } },
    });
    if (this.opts.brokenWith) return err(500, 'internal', this.opts.brokenWith);
    const token = req.headers.authorization?.replace(/^Bearer /, '');
    if (!token || !this.opts.tokens.includes(token)) return err(401, 'unauthorized', 'missing or unknown token');

    const m = url.pathname.match(/^\/v1\/branches(?:\/([^/]+))?(?:\/(reset|rebase|start|stop))?$/);
    if (!m) return err(404, 'not_found', 'no such route');
    const name = m[1] ? decodeURIComponent(m[1]) : undefined;
    const action = m[2];

    if (req.method === 'POST' && !name) {
      const b = body as { name: string; parent?: string; labels?: Record<string, string>; ifExists?: string };
      const existing = this.branches.get(b.name);
      if (existing) {
        if (b.ifExists === 'fail') return err(409, 'conflict', `branch ${b.name} already exists`);
        return { status: 200, body: { branch: this.view(existing), created: false } };
      }
      const created = this.makeBranch(b.name, b.parent ?? null, b.labels ?? {});
      this.branches.set(b.name, created);
      return { status: 201, body: { branch: this.view(created), created: true } };
    }
    const branch = name ? this.branches.get(name) : undefined;
    if (!branch) return err(404, 'not_found', `branch ${name} not found`);
    if (req.method === 'GET' && !action) {
      if (branch.state === 'creating') {
        const shown = this.view(branch);
        branch.state = 'ready';
        return { status: 200, body: shown };
      }
      return { status: 200, body: this.view(branch) };
    }
    if (req.method === 'DELETE' && !action) {
      this.branches.delete(branch.name);
      return { status: 200, body: { deleted: [branch.name] } };
    }
    if (req.method === 'POST' && action === 'reset') return { status: 200, body: this.view(branch) };
    if (req.method === 'POST' && action === 'start') {
      branch.state = 'ready';
      return { status: 200, body: this.view(branch) };
    }
    if (req.method === 'POST' && action === 'rebase') {
      if (this.opts.rebaseConflicts) {
        return err(409, 'conflict', 'rebase stopped at a conflict', { conflicts: this.opts.rebaseConflicts });
      }
      return { status: 200, body: this.view(branch) };
    }
    return err(405, 'method_not_allowed', 'not supported by the fake');
  }
}
