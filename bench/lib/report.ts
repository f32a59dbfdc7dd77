import type { Summary } from './stats.ts';

export interface OpResult {
  label: string;
  samples: number[];
  summary: Summary;
}

export const OP_ORDER = [
  'branchCreate',
  'branchCreateEngine',
  'branchReset',
  'branchDelete',
  'templateClone',
  'templateWalLog',
  'logical',
] as const;
export type OpKey = (typeof OP_ORDER)[number];

export interface SizeResult {
  /** Target size in decimal MB (10^6 bytes), e.g. 100 or 1000. */
  targetMB: number;
  parent: { databaseBytes: number; clusterOnDiskBytes: number; events: number; accounts: number; generateMs: number };
  ops: Partial<Record<OpKey, OpResult>>;
  bytes: {
    branchExclusiveMedian: number | null;
    branchExclusiveMax: number | null;
    templateCloneExclusive: number | null;
    templateWalLogExclusive: number | null;
    logicalStreamed: number | null;
  };
  pool: { usedBeforeBytes: number; usedAfterDeletesBytes: number };
}

export interface Check {
  name: string;
  value: string;
  pass: boolean | null;
}

export function sizeLabel(mb: number): string {
  return mb >= 1000 ? `~${+(mb / 1000).toFixed(1)} GB` : `~${mb} MB`;
}

export function fmtMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Decimal units, like the size targets (1 MB = 10^6 bytes). */
export function fmtBytes(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2)} ${units[i]}`;
}

export function fmtRatio(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '-';
  return r >= 100 ? `${Math.round(r)}x` : r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || a < 0 || b <= 0 ? null : a / b;
}

/**
 * Markdown table: one column per size, the ratio largest/smallest, and each operation against
 * branch create (wall) at the same size.
 */
export function renderTable(results: readonly SizeResult[]): string {
  const first = results[0];
  const last = results[results.length - 1];
  const spread = results.length > 1 ? `ratio ${sizeLabel(last.targetMB).slice(1)}/${sizeLabel(first.targetMB).slice(1)}` : 'ratio';
  const header = [
    'operation',
    ...results.map((r) => sizeLabel(r.targetMB)),
    spread,
    `vs branch create (${results.map((r) => sizeLabel(r.targetMB)).join(' / ')})`,
  ];
  const rows: string[][] = [];
  for (const key of OP_ORDER) {
    const label = results.find((r) => r.ops[key])?.ops[key]!.label;
    if (!label) continue;
    const medians = results.map((r) => r.ops[key]?.summary.median ?? null);
    rows.push([
      label,
      ...results.map((r) => {
        const s = r.ops[key]?.summary;
        return s ? `${fmtMs(s.median)} (p90 ${fmtMs(s.p90)}, n=${s.n})` : '-';
      }),
      results.length > 1 ? fmtRatio(ratio(medians[medians.length - 1], medians[0])) : '-',
      key === 'branchCreate'
        ? '1x'
        : results.map((r) => fmtRatio(ratio(r.ops[key]?.summary.median, r.ops.branchCreate?.summary.median))).join(' / '),
    ]);
  }
  const byteRows: [string, (r: SizeResult) => number | null][] = [
    ['parent database size (pg_database_size)', (r) => r.parent.databaseBytes],
    ['parent cluster on disk (btrfs du of main, incl. WAL)', (r) => r.parent.clusterOnDiskBytes],
    ['fresh branch: exclusive bytes (median of runs)', (r) => r.bytes.branchExclusiveMedian],
    ['FILE_COPY clone database: exclusive bytes', (r) => r.bytes.templateCloneExclusive],
    ['WAL_LOG copy database: exclusive bytes', (r) => r.bytes.templateWalLogExclusive],
    [
      'pool used after deleting every branch, minus before (btrfs settled; main keeps writing WAL)',
      (r) => r.pool.usedAfterDeletesBytes - r.pool.usedBeforeBytes,
    ],
  ];
  for (const [label, get] of byteRows) {
    const values = results.map(get);
    rows.push([label, ...values.map(fmtBytes), results.length > 1 ? fmtRatio(ratio(values[values.length - 1], values[0])) : '-', '']);
  }
  const cell = (text: string) => text.replace(/\|/g, '\\|'); // `pg_dump | pg_restore` must not split a markdown cell
  return [header, header.map(() => '---'), ...rows].map((cols) => `| ${cols.map(cell).join(' | ')} |`).join('\n');
}

export const LIMITS = { createMedianMs: 300, sizeRatio: 1.5, freshExclusiveBytes: 5_000_000 };

/** The acceptance numbers, on the largest and smallest parent of this run. */
export function checks(results: readonly SizeResult[]): Check[] {
  const first = results[0];
  const last = results[results.length - 1];
  const big = last.ops.branchCreate?.summary.median ?? null;
  const small = first.ops.branchCreate?.summary.median ?? null;
  const sizeRatio = results.length > 1 ? ratio(big, small) : null;
  const exclusive = results.map((r) => r.bytes.branchExclusiveMax).filter((b): b is number => b !== null);
  const worst = exclusive.length ? Math.max(...exclusive) : null;
  const bigLabel = sizeLabel(last.targetMB).slice(1);
  const smallLabel = sizeLabel(first.targetMB).slice(1);
  return [
    {
      name: `${bigLabel} create median < ${LIMITS.createMedianMs} ms`,
      value: big === null ? '-' : fmtMs(big),
      pass: big === null ? null : big < LIMITS.createMedianMs,
    },
    {
      name: `${bigLabel}/${smallLabel} ratio < ${LIMITS.sizeRatio}`,
      value: sizeRatio === null ? 'needs two sizes' : `${sizeRatio.toFixed(3)}x`,
      pass: sizeRatio === null ? null : sizeRatio < LIMITS.sizeRatio,
    },
    {
      name: `fresh branch exclusive < ${fmtBytes(LIMITS.freshExclusiveBytes)}`,
      value: worst === null ? '-' : `${fmtBytes(worst)} (worst run)`,
      pass: worst === null ? null : worst < LIMITS.freshExclusiveBytes,
    },
  ];
}

export function renderChecks(list: readonly Check[]): string {
  return list.map((c) => `${c.pass === null ? 'SKIP' : c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.value}`).join('\n');
}
