const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export const DURATION_RULE = 'a duration is a whole number followed by s, m, h, d or w, e.g. 30m, 2h, 7d';

/** Parses "90s", "30m", "2h", "7d", "1w" (and sums like "1d12h") into milliseconds; null when malformed. */
export function parseDuration(text: string): number | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 32) return null;
  const re = /(\d{1,6})([smhdw])/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed = re.lastIndex;
  }
  return consumed === text.length && total > 0 ? total : null;
}

/** Human form for tables and comments: "45s", "12m", "3h 5m", "2d 4h". */
export function formatDuration(ms: number): string {
  const negative = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m && !d) parts.push(`${m}m`);
  if (!d && !h && (s || parts.length === 0)) parts.push(`${s}s`);
  return (negative ? '-' : '') + parts.slice(0, 2).join(' ');
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
