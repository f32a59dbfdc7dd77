import type { Branch, CreateResult, ApiErrorBody } from './types.ts';
import type { CreateBranchBody, PatchBranchBody } from './schemas.ts';

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

export interface AuditRecord {
  id: number;
  time: string;
  actor: string;
  action: string;
  branch: string | null;
  result: 'ok' | 'error' | 'denied';
  status: number;
  requestId?: string;
  detail?: string;
}

/** Typed client of the host agent's v1 API, shared by the CLI, the action and the app. */
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

  health(): Promise<{ ok: boolean; version: string; storage: string }> {
    return this.request('GET', '/healthz');
  }
  list(): Promise<{ branches: Branch[] }> {
    return this.request('GET', '/v1/branches');
  }
  get(name: string): Promise<Branch> {
    return this.request('GET', `/v1/branches/${encodeURIComponent(name)}`);
  }
  create(body: CreateBranchBody): Promise<CreateResult> {
    return this.request('POST', '/v1/branches', body);
  }
  patch(name: string, body: PatchBranchBody): Promise<Branch> {
    return this.request('PATCH', `/v1/branches/${encodeURIComponent(name)}`, body);
  }
  delete(name: string, opts: { cascade?: boolean; force?: boolean } = {}): Promise<{ deleted: string[] }> {
    const q = new URLSearchParams();
    if (opts.cascade) q.set('cascade', '1');
    if (opts.force) q.set('force', '1');
    const qs = q.size ? `?${q.toString()}` : '';
    return this.request('DELETE', `/v1/branches/${encodeURIComponent(name)}${qs}`);
  }
  reset(name: string, opts: { force?: boolean } = {}): Promise<Branch> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(name)}/reset${opts.force ? '?force=1' : ''}`, {});
  }
  rebase(name: string): Promise<Branch> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(name)}/rebase`, {});
  }
  diff(name: string): Promise<{ sql: string; summary: string[] }> {
    return this.request('GET', `/v1/branches/${encodeURIComponent(name)}/diff`);
  }
  stop(name: string): Promise<Branch> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(name)}/stop`, {});
  }
  start(name: string): Promise<Branch> {
    return this.request('POST', `/v1/branches/${encodeURIComponent(name)}/start`, {});
  }
  /** The CA of branch postgres certificates (PEM), for sslmode=verify-full. */
  ca(): Promise<{ pem: string }> {
    return this.request('GET', '/v1/ca');
  }
  audit(limit = 100): Promise<{ records: AuditRecord[] }> {
    return this.request('GET', `/v1/audit?limit=${limit}`);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    return parsed as T;
  }
}
