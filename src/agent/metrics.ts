import type { CommitStats } from './storage/driver.ts';

/** A small hand-rolled Prometheus registry: the agent exports a handful of series, not worth a dependency. */

export type Operation = 'create' | 'reset' | 'rebase' | 'delete' | 'wake';

export interface MetricsSnapshot {
  branchesByState: Record<string, number>;
  pool: { usedBytes: number; freeBytes: number };
  /** Idle suspend and capacity (src/agent/lifecycle); absent without an engine (inject tests). */
  lifecycle?: {
    running: number;
    limit: number | null;
    suspends: { idle: number; capacity: number };
    wakes: number;
    capacityRefusals: number;
  };
  /** The postgres proxy (src/agent/proxy); absent when proxy.listen is not set. */
  proxy?: ProxyStats;
  /** WAL bytes each capturing branch's slot held back at its last drain. */
  captureLag?: Record<string, number>;
  /** The pool's transaction commits (btrfs only). */
  commits?: CommitStats | null;
  /** Deleted volumes waiting to be freed (btrfs only: freed when no snapshot is waiting). */
  trashed?: number | null;
}

export interface ProxyStats {
  /** Client connections open now (negotiating, waking or spliced). */
  clients: number;
  /** Sessions spliced to a branch since start. */
  sessions: number;
  /** Clients turned away with a FATAL ErrorResponse, by SQLSTATE. */
  refusals: Record<string, number>;
}

// Seconds; creates on CoW storage take well under a second, copies and resets of big clusters minutes.
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;
const OPERATIONS: readonly Operation[] = ['create', 'reset', 'rebase', 'delete', 'wake'];
const BRANCH_STATES = ['creating', 'ready', 'stopped', 'deleting', 'failed'];

interface Histogram {
  buckets: number[]; // cumulative counts per DURATION_BUCKETS entry
  sum: number;
  count: number;
}

export class Metrics {
  private readonly durations = new Map<Operation, Histogram>();
  private readonly operations = new Map<string, number>(); // "op|ok" -> count
  private readonly errors = new Map<string, number>();

  constructor() {
    for (const op of OPERATIONS) {
      this.durations.set(op, { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 });
    }
  }

  observeOperation(op: Operation, seconds: number, ok: boolean): void {
    const h = this.durations.get(op);
    if (!h || !Number.isFinite(seconds) || seconds < 0) return;
    DURATION_BUCKETS.forEach((le, i) => {
      if (seconds <= le) h.buckets[i]++;
    });
    h.sum += seconds;
    h.count++;
    const key = `${op}|${ok ? 'ok' : 'error'}`;
    this.operations.set(key, (this.operations.get(key) ?? 0) + 1);
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  render(snapshot: MetricsSnapshot): string {
    const out: string[] = [];

    header(out, 'vela_branches', 'gauge', 'Branches by state.');
    const states = { ...Object.fromEntries(BRANCH_STATES.map((s) => [s, 0])), ...snapshot.branchesByState };
    for (const [state, n] of Object.entries(states)) out.push(sample('vela_branches', { state }, n));

    header(out, 'vela_pool_bytes', 'gauge', 'Storage pool bytes by kind.');
    out.push(sample('vela_pool_bytes', { kind: 'used' }, snapshot.pool.usedBytes));
    out.push(sample('vela_pool_bytes', { kind: 'free' }, snapshot.pool.freeBytes));

    if (snapshot.commits) renderCommits(out, snapshot.commits);
    if (typeof snapshot.trashed === 'number') {
      header(out, 'vela_btrfs_trash_volumes', 'gauge', 'Deleted branch volumes waiting to be freed while no snapshot runs.');
      out.push(sample('vela_btrfs_trash_volumes', {}, snapshot.trashed));
    }
    if (snapshot.lifecycle) renderLifecycle(out, snapshot.lifecycle);
    if (snapshot.proxy) renderProxy(out, snapshot.proxy);

    header(out, 'vela_capture_slot_lag_bytes', 'gauge', "WAL a branch's change capture slot held back at its last drain.");
    for (const [branch, n] of Object.entries(snapshot.captureLag ?? {})) out.push(sample('vela_capture_slot_lag_bytes', { branch }, n));

    header(out, 'vela_operations_total', 'counter', 'Branch operations by result.');
    for (const op of OPERATIONS) {
      for (const result of ['ok', 'error']) {
        out.push(sample('vela_operations_total', { op, result }, this.operations.get(`${op}|${result}`) ?? 0));
      }
    }

    const name = 'vela_operation_duration_seconds';
    header(out, name, 'histogram', 'Duration of branch operations in seconds.');
    for (const op of OPERATIONS) {
      const h = this.durations.get(op)!;
      DURATION_BUCKETS.forEach((le, i) => out.push(sample(`${name}_bucket`, { op, le: String(le) }, h.buckets[i])));
      out.push(sample(`${name}_bucket`, { op, le: '+Inf' }, h.count));
      out.push(sample(`${name}_sum`, { op }, h.sum));
      out.push(sample(`${name}_count`, { op }, h.count));
    }

    header(out, 'vela_errors_total', 'counter', 'API errors by error code.');
    for (const [code, n] of [...this.errors].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(sample('vela_errors_total', { code }, n));
    }

    return out.join('\n') + '\n';
  }
}

function renderCommits(out: string[], c: CommitStats): void {
  header(out, 'vela_btrfs_commits_total', 'counter', 'btrfs transaction commits of the pool since it was mounted.');
  out.push(sample('vela_btrfs_commits_total', {}, c.commits));
  header(out, 'vela_btrfs_commit_seconds_total', 'counter', 'Time btrfs spent committing transactions since mount.');
  out.push(sample('vela_btrfs_commit_seconds_total', {}, c.totalMs / 1000));
  header(out, 'vela_btrfs_commit_last_seconds', 'gauge', 'Duration of the last btrfs commit (snapshots and stops wait on commits).');
  out.push(sample('vela_btrfs_commit_last_seconds', {}, c.lastMs / 1000));
  header(out, 'vela_btrfs_commit_max_seconds', 'gauge', 'Longest btrfs commit since mount.');
  out.push(sample('vela_btrfs_commit_max_seconds', {}, c.maxMs / 1000));
}

function renderLifecycle(out: string[], l: NonNullable<MetricsSnapshot['lifecycle']>): void {
  header(out, 'vela_branches_running', 'gauge', 'Branches with a running postgres (ready or being created).');
  out.push(sample('vela_branches_running', {}, l.running));
  if (l.limit !== null) {
    header(out, 'vela_branches_running_limit', 'gauge', 'Running branches the capacity allows (capacity.maxRunning, memoryBudget).');
    out.push(sample('vela_branches_running_limit', {}, l.limit));
  }
  header(out, 'vela_suspends_total', 'counter', 'Branches suspended, by reason (idle timeout, or room for another).');
  out.push(sample('vela_suspends_total', { reason: 'idle' }, l.suspends.idle));
  out.push(sample('vela_suspends_total', { reason: 'capacity' }, l.suspends.capacity));
  header(out, 'vela_wakes_total', 'counter', 'Stopped branches started by a wake (API start, proxy connection).');
  out.push(sample('vela_wakes_total', {}, l.wakes));
  header(out, 'vela_capacity_refusals_total', 'counter', 'Starts and creates refused with 503 capacity (nothing idle to suspend).');
  out.push(sample('vela_capacity_refusals_total', {}, l.capacityRefusals));
}

function renderProxy(out: string[], p: ProxyStats): void {
  header(out, 'vela_proxy_clients', 'gauge', 'Client connections open on the postgres proxy.');
  out.push(sample('vela_proxy_clients', {}, p.clients));
  header(out, 'vela_proxy_sessions_total', 'counter', 'Proxy sessions spliced to a branch.');
  out.push(sample('vela_proxy_sessions_total', {}, p.sessions));
  header(out, 'vela_proxy_refusals_total', 'counter', 'Proxy clients turned away with a FATAL ErrorResponse, by SQLSTATE.');
  for (const [sqlstate, n] of Object.entries(p.refusals).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(sample('vela_proxy_refusals_total', { sqlstate }, n));
  }
}

function header(out: string[], name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',');
  return `${name}${body ? `{${body}}` : ''} ${formatValue(value)}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
