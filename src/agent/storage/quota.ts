/** A branch's disk quota as written in the config: `10G`, `512M`, `1.5T`, bytes, or `0`/`none` for no quota. */
export const QUOTA_RULE = 'expected a size such as 10G, 512M or 1T (binary units), a number of bytes, or 0/none for no quota';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes, null for "no quota", undefined when the text is not a quota. */
export function parseQuota(value: string | number): number | null | undefined {
  const text = String(value).trim();
  if (/^(none|0)$/i.test(text)) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text);
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()]);
  // Below a few MiB postgres cannot even finish its own checkpoint in the branch.
  return bytes >= 16 * 1024 ** 2 ? bytes : undefined;
}
