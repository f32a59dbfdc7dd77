import type { z } from 'zod';
import { routes } from './api/routes.ts';
import type { BodyInputOf, OperationId, ResultOf, RouteSpec } from './api/routes.ts';
import type { ApiErrorBody, AuditList, Branch, BranchList, BuildProgress, CreateResult, DoctorReport } from './api/responses.ts';
import type { CaCertificate, DeleteResult, DiffResult, Health, InitResult, OpenApiDocument } from './api/responses.ts';
import type { CreateBranchBody, InitBody, PatchBranchBody } from './api/requests.ts';

export type { AuditRecord } from './api/responses.ts';

/** An error answer from the agent (or no answer at all: status 0). */
export class AgentError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body?: ApiErrorBody;
  constructor(status: number, code: string, message: string, body?: ApiErrorBody) {
    super(message);
    this.name = 'AgentError';
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export interface AgentClientOptions {
  url: string;
  token?: string;
  /** Injected so tests and the action can pass their own fetch. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  userAgent?: string;
}

/** What one operation of the route table needs: path parameters, query values and the body. */
export interface CallInput<K extends OperationId> {
  params?: Record<string, string>;
  query?: Record<string, string | undefined>;
  body?: BodyInputOf<K>;
}

/**
 * Typed client of the host agent's v1 API, shared by the CLI, the action and the app: one method
 * per route of src/core/api/routes.ts. Every success answer is checked against the route's schema,
 * so a mismatched agent is one clear error instead of undefined fields later.
 */
export class AgentClient {
  private readonly base: string;
  private readonly token?: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly userAgent: string;

  constructor(opts: AgentClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.userAgent = opts.userAgent ?? 'vela-branch';
  }

  health(): Promise<Health> {
    return this.call('getHealth');
  }
  metrics(): Promise<string> {
    return this.call('getMetrics');
  }
  openapi(): Promise<OpenApiDocument> {
    return this.call('getOpenApi');
  }
  list(): Promise<BranchList> {
    return this.call('listBranches');
  }
  get(name: string): Promise<Branch> {
    return this.call('getBranch', { params: { name } });
  }
  create(body: CreateBranchBody): Promise<CreateResult> {
    return this.call('createBranch', { body });
  }
  patch(name: string, body: PatchBranchBody): Promise<Branch> {
    return this.call('updateBranch', { params: { name }, body });
  }
  delete(name: string, opts: { cascade?: boolean; force?: boolean } = {}): Promise<DeleteResult> {
    return this.call('deleteBranch', { params: { name }, query: { cascade: flag(opts.cascade), force: flag(opts.force) } });
  }
  reset(name: string, opts: { force?: boolean } = {}): Promise<Branch> {
    return this.call('resetBranch', { params: { name }, query: { force: flag(opts.force) }, body: {} });
  }
  rebase(name: string): Promise<Branch> {
    return this.call('rebaseBranch', { params: { name }, body: {} });
  }
  /** Schema diff and data counts against the parent; `rows`: a sample of up to that many changed keys per table. */
  diff(name: string, opts: { rows?: number } = {}): Promise<DiffResult> {
    return this.call('diffBranch', { params: { name }, query: { rows: opts.rows === undefined ? undefined : String(opts.rows) } });
  }
  stop(name: string): Promise<Branch> {
    return this.call('stopBranch', { params: { name }, body: {} });
  }
  start(name: string): Promise<Branch> {
    return this.call('startBranch', { params: { name }, body: {} });
  }
  /** The CA of branch postgres certificates (PEM), for sslmode=verify-full. */
  ca(): Promise<CaCertificate> {
    return this.call('getCa');
  }
  /** What the agent set aside instead of acting on it (admin). */
  doctor(): Promise<DoctorReport> {
    return this.call('getDoctor');
  }
  audit(limit = 100, branch?: string): Promise<AuditList> {
    return this.call('listAudit', { query: { limit: String(limit), branch } });
  }
  /** (Re)builds main; answers when the new main serves (minutes for an import). */
  init(body: InitBody): Promise<InitResult> {
    return this.call('initMain', { body });
  }
  progress(): Promise<BuildProgress> {
    return this.call('getBuildProgress');
  }
  /** Repeats the last build of main. */
  refresh(): Promise<Branch> {
    return this.call('refreshMain', { params: { name: 'main' }, body: {} });
  }

  /** Calls one operation of the route table and checks the answer against its schema. */
  async call<K extends OperationId>(operationId: K, input: CallInput<K> = {}): Promise<ResultOf<K>> {
    const spec: RouteSpec = routes[operationId];
    const path = spec.path.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(input.params?.[key] ?? ''));
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(input.query ?? {})) if (value !== undefined) query.set(key, value);
    const url = query.size ? `${path}?${query.toString()}` : path;
    const { status, parsed, text } = await this.send(spec.method, url, input.body);
    const expected = spec.responses[status as 200 | 201];
    const where = `${operationId} (${spec.method} ${path})`;
    if (!expected) {
      const statuses = Object.keys(spec.responses).join(' or ');
      throw new AgentError(status, 'unexpected_response', `the agent answered ${where} with ${status}, expected ${statuses}`);
    }
    const value = expected.contentType === 'text/plain' ? text : parsed;
    return checkAnswer(expected.schema, value, where) as ResultOf<K>;
  }

  /** A raw request, unchecked; prefer the typed methods (they check the answer). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.send(method, path, body)).parsed as T;
  }

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; parsed: unknown; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new AgentError(0, 'unreachable', `cannot reach the vela agent at ${this.base} (${reason})`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // fall through: a non-JSON answer is reported below
    }
    if (!res.ok) {
      const b = parsed as ApiErrorBody | undefined;
      const code = b?.error?.code ?? `http_${res.status}`;
      const message = b?.error?.message ?? `agent answered ${res.status} ${res.statusText}`;
      throw new AgentError(res.status, code, message, b);
    }
    return { status: res.status, parsed, text };
  }
}

const flag = (on: boolean | undefined) => (on ? '1' : undefined);

/** The answer as the contract describes it, or an error naming each field that does not match. */
function checkAnswer(schema: z.ZodType, value: unknown, where: string): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`);
  throw new AgentError(
    0,
    'invalid_response',
    `the agent's answer to ${where} does not match the API contract: ${problems.join('; ')} (is the agent a different version?)`,
  );
}
