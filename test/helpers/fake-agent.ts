import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBranchBody, patchBranchBody } from '../../src/core/api/index.ts';
import { parseDuration } from '../../src/core/durations.ts';
import type { Branch, DiffResult, RebaseConflict } from '../../src/core/api/index.ts';

/** Every password the fake hands out starts with this, so tests can grep output for any of them. */
export const FAKE_PASSWORD_PREFIX = 'fake-secret-';

/** A request as the fake agent saw it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/v1/branches/pr-1/reset?force=1`. */
  path: string;
  authorization: string | undefined;
  body: unknown;
}

export interface Answer {
  status: number;
  body?: unknown;
}
export type AnswerFn = (req: RecordedRequest) => Answer | Promise<Answer>;

export interface FakeAgentOptions {
  /** Bearer tokens accepted; without this list any bearer token is. */
  tokens?: string[];
  /** The fake's clock: createdAt, expiresAt, updatedAt. */
  now?: () => Date;
  /** New branches were created this long before `now` (to show an age). */
  createdAgoMs?: number;
  /** State a new branch starts in; `creating` is still shown by the next GET, then turns `ready`. */
  createState?: 'ready' | 'creating';
  /** Start with a protected root branch `main` (default true). */
  main?: boolean;
  /** Rebase answers 409 with these conflicts when set. */
  rebaseConflicts?: RebaseConflict[];
  /** What `GET …/diff` answers. */
  diff?: DiffResult;
  /** `timings.resetMs` a reset reports. */
  resetMs?: number;
  /** Every request answers 500 with this message (for cleanup-failure tests). */
  brokenWith?: string;
}

/** What the fake's `GET …/diff` answers unless told otherwise: one added column, rows in two tables. */
export const FAKE_DIFF: DiffResult = {
  parent: 'main',
  sql: 'ALTER TABLE "public"."users" ADD COLUMN "nickname" text;\n',
  summary: ['column public.users.nickname added'],
  objects: { columns: { added: ['public.users.nickname'], dropped: [], changed: [] } },
  data: [
    { table: { schema: 'public', name: 'users' }, inserted: 3, updated: 1, deleted: 0 },
    { table: { schema: 'public', name: 'orders' }, inserted: 0, updated: 0, deleted: 2 },
  ],
};

const ROUTE = /^\/v1\/branches(?:\/([^/]+)(?:\/(reset|rebase|diff|start|stop))?)?$/;

/**
 * One in-memory stand-in for the agent's v1 HTTP API on a real local socket, shared by the action,
 * app and CLI tests. Stateful by default (create/get/list/patch/delete/reset/rebase/stop/start/diff
 * behave like the agent); `answer()` scripts a route for one test. The app's PR lifecycle script
 * (test/app/helpers/lifecycle.ts) runs against this fake and against a real agent, which keeps the
 * two in step. Passwords carry characters URL encoding changes.
 */
export class FakeAgent {
  readonly requests: RecordedRequest[] = [];
  readonly branches = new Map<string, Branch>();
  url = '';
  private readonly opts: FakeAgentOptions;
  private readonly answers = new Map<string, AnswerFn>();
  private readonly shownCreating = new Set<string>();
  private server: Server | null = null;
  private gate: Promise<void> | null = null;
  private seq = 0;

  constructor(opts: FakeAgentOptions = {}) {
    this.opts = opts;
    if (opts.main !== false) this.seed('main', { parent: null, protected: true, state: 'ready' });
  }

  /** Listens on 127.0.0.1 (on `port`, or any free one); `url` is set afterwards. */
  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => void this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Scripts one route ("METHOD /path", query ignored) for the rest of this fake's life. */
  answer(route: string, fn: AnswerFn): this {
    this.answers.set(route, fn);
    return this;
  }

  /** Adds a branch: a full Branch (kept exactly as given, connection included) or a name and overrides. */
  seed(branch: Branch): Branch;
  seed(name: string, patch?: Partial<Branch>): Branch;
  seed(nameOrBranch: string | Branch, patch: Partial<Branch> = {}): Branch {
    const branch = typeof nameOrBranch === 'string' ? { ...this.makeBranch(nameOrBranch, 'main', null, {}), ...patch } : nameOrBranch;
    this.branches.set(branch.name, branch);
    return branch;
  }

  passwordOf(name: string): string {
    return this.branches.get(name)!.connection!.password;
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
    return [...this.branches.keys()].filter((name) => name !== 'main').sort();
  }

  /** "METHOD /path?query" of every request, in order. */
  get calls(): string[] {
    return this.requests.map((req) => `${req.method} ${req.path}`);
  }

  countCalls(prefix: string): number {
    return this.calls.filter((call) => call.startsWith(prefix)).length;
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private makeBranch(name: string, parent: string | null, ttl: string | null, labels: Record<string, string>): Branch {
    this.seq += 1;
    const now = this.now();
    const port = 55_000 + this.seq;
    const user = `u_${name.replace(/-/g, '_')}`;
    const password = `${FAKE_PASSWORD_PREFIX}${name}-p@ss/w:rd+${this.seq}%Zx9`;
    return {
      name,
      parent,
      state: this.opts.createState ?? 'ready',
      host: '127.0.0.1',
      port,
      database: 'app',
      user,
      createdAt: new Date(now.getTime() - (this.opts.createdAgoMs ?? 0)).toISOString(),
      updatedAt: now.toISOString(),
      expiresAt: ttl ? new Date(now.getTime() + parseDuration(ttl)!).toISOString() : null,
      protected: false,
      labels,
      storage: { driver: 'btrfs', exclusiveBytes: 16_384 },
      timings: { createMs: 42 },
      connection: {
        host: '127.0.0.1',
        port,
        database: 'app',
        user,
        password,
        uri: `postgresql://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/app`,
      },
    };
  }

  /** What the agent shows: credentials only while ready. */
  private view(branch: Branch): Branch {
    if (branch.state === 'ready') return branch;
    const { connection: _hidden, ...rest } = branch;
    return rest;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authorization: req.headers.authorization,
      body: raw ? (JSON.parse(raw) as unknown) : undefined,
    };
    this.requests.push(recorded);
    const answer = await this.handle(recorded);
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
  }

  private async handle(req: RecordedRequest): Promise<Answer> {
    const url = new URL(req.path, 'http://agent');
    const fail = (status: number, code: string, message: string, extra: Record<string, unknown> = {}): Answer => ({
      status,
      body: { error: { code, message, ...extra } },
    });
    if (this.opts.brokenWith) return fail(500, 'internal', this.opts.brokenWith);
    const token = req.authorization?.replace(/^Bearer /, '');
    if (!token) return fail(401, 'unauthorized', 'missing bearer token');
    if (this.opts.tokens && !this.opts.tokens.includes(token)) return fail(401, 'unauthorized', 'missing or unknown token');

    const scripted = this.answers.get(`${req.method} ${url.pathname}`);
    if (scripted) return scripted(req);

    const match = url.pathname.match(ROUTE);
    if (!match) return fail(404, 'not_found', `no route ${req.method} ${url.pathname}`);
    const name = match[1] ? decodeURIComponent(match[1]) : undefined;
    const verb = match[2];
    const flag = (key: string) => url.searchParams.get(key) === '1';

    if (!name && req.method === 'GET') return { status: 200, body: { branches: [...this.branches.values()].map(withoutConnection) } };
    if (!name && req.method === 'POST') {
      if (this.gate) await this.gate;
      const parsed = createBranchBody.safeParse(req.body);
      if (!parsed.success) return fail(400, 'bad_request', parsed.error.issues[0].message);
      const body = parsed.data;
      const existing = this.branches.get(body.name);
      if (existing) {
        if (body.ifExists !== 'return')
          return fail(409, 'conflict', `branch ${body.name} already exists; use ifExists "return" to reuse it`);
        return { status: 200, body: { branch: this.view(existing), created: false } };
      }
      const parent = body.parent ?? 'main';
      if (!this.branches.has(parent)) return fail(404, 'not_found', `parent branch ${parent} not found`);
      const created = this.makeBranch(body.name, parent, body.ttl ?? null, body.labels ?? {});
      this.branches.set(created.name, created);
      return { status: 201, body: { branch: this.view(created), created: true } };
    }

    const branch = name ? this.branches.get(name) : undefined;
    if (!branch) return fail(404, 'not_found', `branch ${name} not found`);
    const touch = () => (branch.updatedAt = this.now().toISOString());
    switch (`${req.method} ${verb ?? ''}`) {
      case 'GET ': {
        const shown = this.view(branch);
        // A branch being created is seen as such once, then it is done.
        if (branch.state === 'creating') branch.state = 'ready';
        return { status: 200, body: shown };
      }
      case 'PATCH ': {
        const parsed = patchBranchBody.safeParse(req.body);
        if (!parsed.success) return fail(400, 'bad_request', parsed.error.issues[0].message);
        const { ttl, labels } = parsed.data;
        if (ttl !== undefined) branch.expiresAt = ttl === null ? null : new Date(this.now().getTime() + parseDuration(ttl)!).toISOString();
        if (labels) branch.labels = labels;
        touch();
        return { status: 200, body: this.view(branch) };
      }
      case 'DELETE ': {
        if (branch.protected && !flag('force')) {
          return fail(403, 'forbidden', `${branch.name} is protected: deleting it needs force and an admin token`);
        }
        const doomed = this.descendants(branch.name);
        if (doomed.length > 1 && !flag('cascade')) {
          return fail(409, 'conflict', `branch ${branch.name} has children (${doomed.slice(1).join(', ')}); use cascade`);
        }
        for (const gone of doomed) this.branches.delete(gone);
        return { status: 200, body: { deleted: doomed } };
      }
      case 'POST reset':
        branch.timings = { ...branch.timings, resetMs: this.opts.resetMs ?? 1500 };
        branch.state = 'ready';
        touch();
        return { status: 200, body: this.view(branch) };
      case 'POST rebase':
        if (this.opts.rebaseConflicts) {
          const c = this.opts.rebaseConflicts[0];
          const msg = `rebase of ${branch.name} stopped at change log transaction ${c.seq}: ${c.kind}; the branch is unchanged`;
          return fail(409, 'rebase_conflict', msg, { conflicts: this.opts.rebaseConflicts });
        }
        branch.timings = { ...branch.timings, rebaseMs: 2345 };
        touch();
        return { status: 200, body: this.view(branch) };
      case 'POST stop':
        branch.state = 'stopped';
        touch();
        return { status: 200, body: this.view(branch) };
      case 'POST start':
        branch.state = 'ready';
        touch();
        return { status: 200, body: this.view(branch) };
      case 'GET diff':
        return { status: 200, body: this.opts.diff ?? FAKE_DIFF };
      default:
        return fail(405, 'method_not_allowed', `${req.method} not allowed here`);
    }
  }

  /** The branch and everything made from it, parents first. */
  private descendants(name: string): string[] {
    const out = [name];
    for (let i = 0; i < out.length; i++) {
      for (const candidate of this.branches.values()) if (candidate.parent === out[i]) out.push(candidate.name);
    }
    return out;
  }
}

function withoutConnection(branch: Branch): Branch {
  const { connection: _hidden, ...rest } = branch;
  return rest;
}
