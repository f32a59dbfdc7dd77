import { formatDuration } from '../core/durations.ts';
import { branchTiming } from '../core/workflows/timing.ts';

export type Align = 'left' | 'right';

/** Aligned columns separated by two spaces; no trailing whitespace. */
export function renderTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (align[i] === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Time since an ISO timestamp, e.g. "3m", "2d 4h"; "-" when unknown. */
export function formatAge(iso: string | null | undefined, now: number): string {
  const ageMs = iso ? branchTiming({ createdAt: iso, expiresAt: null }, now).ageMs : null;
  return ageMs === null ? '-' : formatDuration(ageMs);
}

/** Time left until expiry, e.g. "6d 23h"; "-" for no TTL, "expired" once it has passed. */
export function formatTtlLeft(expiresAt: string | null | undefined, now: number): string {
  const { ttlLeftMs, expired } = branchTiming({ createdAt: '', expiresAt: expiresAt ?? null }, now);
  if (ttlLeftMs === null) return '-';
  return expired ? 'expired' : formatDuration(ttlLeftMs);
}

/** Operation timings: "142 ms" below a second, "1.4 s" above. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '-';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "2025-11-25 10:53:01" in UTC: sortable, compact, and the same on every machine. */
export function formatTimestamp(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  return new Date(time).toISOString().slice(0, 19).replace('T', ' ');
}
