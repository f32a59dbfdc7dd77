/** A small 5-field cron matcher (minute hour day-of-month month day-of-week; UTC) for the refresh schedule. */

const FIELDS = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12 },
  { min: 0, max: 7 },
] as const;

function expand(field: string, { min, max }: { min: number; max: number }): Set<number> | null {
  const out = new Set<number>();
  for (const part of field.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return null;
    const lo = m[1] === '*' ? min : Number(m[2]);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < min || hi > max || lo > hi || step < 1) return null;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parse(expr: string): Set<number>[] | null {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) return null;
  const sets = parts.map((p, i) => expand(p, FIELDS[i]));
  return sets.every(Boolean) ? (sets as Set<number>[]) : null;
}

export function cronProblem(expr: string): string | null {
  return parse(expr) ? null : `invalid cron expression "${expr.slice(0, 60)}"`;
}

export function cronMatches(expr: string, at: Date): boolean {
  const s = parse(expr);
  if (!s) return false;
  const dow = at.getUTCDay();
  return (
    s[0].has(at.getUTCMinutes()) &&
    s[1].has(at.getUTCHours()) &&
    s[2].has(at.getUTCDate()) &&
    s[3].has(at.getUTCMonth() + 1) &&
    (s[4].has(dow) || (dow === 0 && s[4].has(7)))
  );
}
