import { ROOT_BRANCH } from '../../core/names.ts';
import type { BranchRecord } from '../branches/registry.ts';

/** The label that keeps a branch running however long it sits idle (label keys are lowercase). */
export const KEEP_RUNNING_LABEL = 'keep-running';

/** What idle suspend and capacity are told by the config. */
export interface LifecyclePolicy {
  /** Stop a branch with no client connection this long; null = never. */
  suspendAfterMs: number | null;
  /** Running branches at most; null = no limit. */
  maxRunning: number | null;
  /** Memory all running branches may take, by estimate (see `branchMemoryEstimate`); null = no budget. */
  memoryBudgetBytes: number | null;
  /** The estimate for one running branch. */
  branchBytes: number;
}

/**
 * Branches idle suspend and capacity never stop: protected ones (main by default), main, a
 * standby (it follows its source), templates (parents others are made from) and `keep-running=true`.
 */
export function exemptFromSuspend(rec: BranchRecord): boolean {
  return (
    rec.protected || rec.name === ROOT_BRANCH || rec.standby === true || rec.mask !== undefined || rec.labels[KEEP_RUNNING_LABEL] === 'true'
  );
}

/** A running branch holds a port and a postmaster: a `creating` one already does. */
export function isRunningState(rec: BranchRecord): boolean {
  return rec.state === 'ready' || rec.state === 'creating';
}

/** How many branches may run at once: the smaller of maxRunning and what the memory budget holds. */
export function runningLimit(p: LifecyclePolicy): number | null {
  const byMemory = p.memoryBudgetBytes === null ? null : Math.max(0, Math.floor(p.memoryBudgetBytes / p.branchBytes));
  if (byMemory === null) return p.maxRunning;
  return p.maxRunning === null ? byMemory : Math.min(p.maxRunning, byMemory);
}

// Per-branch memory outside shared_buffers. An idle branch (shared_buffers 16MB, 9 processes) measured
// about 10 MiB PSS (/proc/PID/smaps_rollup, 2026-12-03): shared buffers are touched lazily. A busy one
// touches all of shared_buffers and adds a few MiB per session: 24 MiB leaves room for several.
const PROCESS_OVERHEAD = 24 * 1024 ** 2;

/**
 * The memory one running branch is counted for: its shared_buffers plus the fixed overhead of its
 * processes. An estimate, not a measurement, so admission costs nothing on the wake path and the
 * budget is never exceeded by a branch that later gets busy.
 */
export function branchMemoryEstimate(sharedBuffers: string): number {
  return (pgSizeBytes(sharedBuffers) ?? 128 * 1024 ** 2) + PROCESS_OVERHEAD;
}

/** A PostgreSQL size setting ("16MB", "1GB", "128kB", a bare number = 8 kB pages) in bytes. */
export function pgSizeBytes(text: string): number | null {
  const m = /^(\d+)(kB|MB|GB|TB)?$/.exec(text.trim());
  if (!m) return null;
  const unit = { kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[2] ?? ''] ?? 8192;
  return Number(m[1]) * unit;
}

export const MEMORY_SIZE_RULE = 'expected a memory size such as 8GiB, 512MiB or 2G (binary units), or null for no budget';

/** A config memory size ("8GiB", "512M", "2G", bytes) in bytes; undefined when the text is not one. */
export function parseMemorySize(value: string | number): number | undefined {
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text);
  if (!m) return undefined;
  const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  const bytes = Math.floor(Number(m[1]) * units[m[2].toUpperCase()]);
  // Less than one branch's worth is a typo (a bare "8" meant 8 GiB), not a budget.
  return bytes >= 32 * 1024 ** 2 ? bytes : undefined;
}
