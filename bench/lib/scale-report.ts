import { median, percentile } from './stats.ts';
import type { CreateSample, WakeSample, LoadPair, RestartResult } from './scale-phases.ts';
import type { BranchMemory } from './branch-memory.ts';
import type { Chart } from './svg-plot.ts';

/** The acceptance numbers (issue 14). */
export const SCALE_LIMITS = { wakeP99Ms: 1000, createP99Ms: 500, loadedRatio: 2, restartMs: 10_000 };

export interface StepRow {
  /** Branches on the host at the end of this step. */
  branches: number;
  createP50: number | null;
  createP99: number | null;
  wakeP50: number | null;
  wakeP99: number | null;
  poolUsedBytes: number;
}

export interface ScaleResults {
  creates: CreateSample[];
  wakes: WakeSample[];
  steps: StepRow[];
  memory: BranchMemory[];
  pairs: LoadPair[];
  restart: RestartResult | null;
  errors: number;
  wakeMode: 'proxy' | 'api-start';
  poolUsedBytes: number;
  parentBytes: number;
}

export interface ScaleCheck {
  name: string;
  value: string;
  pass: boolean | null;
}

const p50 = (xs: number[]) => (xs.length ? median(xs) : null);
const p99 = (xs: number[]) => (xs.length ? percentile(xs, 99) : null);

export function stepRow(creates: CreateSample[], wakes: WakeSample[], branches: number, poolUsedBytes: number): StepRow {
  const c = creates.map((x) => x.ms);
  const w = wakes.map((x) => x.ms);
  return { branches, createP50: p50(c), createP99: p99(c), wakeP50: p50(w), wakeP99: p99(w), poolUsedBytes };
}

export function fmtMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function fmtBytes(b: number | null): string {
  if (b === null) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) {
    b /= 1000;
    i++;
  }
  return `${b.toFixed(b >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

function wakeLabel(r: ScaleResults): string {
  return r.wakeMode === 'proxy' ? 'wake-on-connect through the proxy' : 'wake by API start + direct connect (no proxy in this agent)';
}

export function scaleChecks(r: ScaleResults): ScaleCheck[] {
  const wakeP99 = p99(r.wakes.map((w) => w.ms));
  const createP99 = p99(r.creates.map((c) => c.ms));
  const idle = p50(r.pairs.map((p) => p.idleMs));
  const loaded = p50(r.pairs.map((p) => p.loadedMs));
  const ratio = idle && loaded ? loaded / idle : null;
  const n = r.creates.length;
  return [
    {
      name: `${wakeLabel(r)} p99 < ${SCALE_LIMITS.wakeP99Ms} ms`,
      value: fmtMs(wakeP99),
      pass: wakeP99 === null ? null : wakeP99 < SCALE_LIMITS.wakeP99Ms,
    },
    {
      name: `create p99 < ${SCALE_LIMITS.createP99Ms} ms (all ${n} creates)`,
      value: fmtMs(createP99),
      pass: createP99 === null ? null : createP99 < SCALE_LIMITS.createP99Ms,
    },
    { name: 'errors = 0', value: String(r.errors), pass: r.errors === 0 },
    {
      name: `create p50 with the parent under pgbench within ${SCALE_LIMITS.loadedRatio}x of idle`,
      value: ratio === null ? '-' : `${fmtMs(loaded)} vs ${fmtMs(idle)} = ${ratio.toFixed(2)}x`,
      pass: ratio === null ? null : ratio <= SCALE_LIMITS.loadedRatio,
    },
    {
      name: `agent restart with ${r.restart?.branchesBefore ?? '?'} branches < ${SCALE_LIMITS.restartMs / 1000} s, none lost`,
      value: r.restart ? `${fmtMs(r.restart.ms)}, lost ${r.restart.lost.length}, not serving ${r.restart.notServing.length}` : '-',
      pass: r.restart ? r.restart.ms < SCALE_LIMITS.restartMs && r.restart.lost.length === 0 && r.restart.notServing.length === 0 : null,
    },
  ];
}

export function renderScale(r: ScaleResults, checks: ScaleCheck[]): string {
  const rows = [
    ['branches', 'create p50', 'create p99', `wake p50`, `wake p99`, 'pool used'],
    ...r.steps.map((s) => [
      String(s.branches),
      fmtMs(s.createP50),
      fmtMs(s.createP99),
      fmtMs(s.wakeP50),
      fmtMs(s.wakeP99),
      fmtBytes(s.poolUsedBytes),
    ]),
  ];
  const table = [rows[0], rows[0].map(() => '---'), ...rows.slice(1)].map((c) => `| ${c.join(' | ')} |`).join('\n');
  const pss = r.memory.map((m) => m.pssBytes);
  const rss = r.memory.map((m) => m.rssBytes);
  const procs = r.memory.map((m) => m.processes);
  const w = r.wakes.map((x) => x.ms);
  const tps = r.pairs.map((p) => p.parentTps ?? 0);
  const lines = [
    `wake mode: ${wakeLabel(r)}`,
    table,
    '',
    `parent: ${fmtBytes(r.parentBytes)} (pg_database_size); pool used at the end: ${fmtBytes(r.poolUsedBytes)}`,
    `wakes from stopped: ${w.length}, p50 ${fmtMs(p50(w))}, p99 ${fmtMs(p99(w))}, max ${fmtMs(w.length ? Math.max(...w) : null)}`,
    `memory per running idle branch (n=${pss.length}): PSS p50 ${fmtBytes(p50(pss))}, RSS p50 ${fmtBytes(p50(rss))} (sum over its ${p50(procs) ?? '-'} processes)`,
    `create with the parent idle vs under pgbench (n=${r.pairs.length} pairs, parent ${Math.round(p50(tps) ?? 0)} tps p50): p50 ${fmtMs(p50(r.pairs.map((p) => p.idleMs)))} vs ${fmtMs(p50(r.pairs.map((p) => p.loadedMs)))}`,
    '',
    'checks (issue 14):',
    ...checks.map((c) => `${c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value}`),
  ];
  return lines.join('\n');
}

export function scaleChart(r: ScaleResults, subtitle: string): Chart {
  const pts = (key: keyof StepRow) =>
    r.steps.filter((s) => s[key] !== null).map((s) => ({ x: s.branches, y: Math.round(s[key] as number) }));
  return {
    title: 'vela-branch: create and wake latency vs branches on one host',
    subtitle: `${subtitle}\nwake = ${r.wakeMode === 'proxy' ? 'connect through the proxy to a stopped branch' : 'API start + direct connect (no proxy)'} → first query`,
    xLabel: 'branches on the host',
    yLabel: 'milliseconds',
    series: [
      { label: 'create p50', color: '#1f77b4', points: pts('createP50') },
      { label: 'create p99', color: '#1f77b4', dashed: true, points: pts('createP99') },
      { label: 'wake p50', color: '#d62728', points: pts('wakeP50') },
      { label: 'wake p99', color: '#d62728', dashed: true, points: pts('wakeP99') },
    ],
    limits: [
      { y: SCALE_LIMITS.createP99Ms, label: `create p99 limit ${SCALE_LIMITS.createP99Ms} ms`, color: '#1f77b4' },
      { y: SCALE_LIMITS.wakeP99Ms, label: `wake p99 limit ${SCALE_LIMITS.wakeP99Ms} ms`, color: '#d62728' },
    ],
  };
}
