import { AgentError } from '../client.ts';
import { rebaseConflict } from '../api/responses.ts';
import type { RebaseConflict } from '../api/responses.ts';

export type { RebaseConflict };

/** The conflicts a 409 from rebase carries (entries that do not match the contract are left out). */
export function rebaseConflictsOf(err: unknown): RebaseConflict[] {
  if (!(err instanceof AgentError) || err.status !== 409) return [];
  const list = err.body?.error?.conflicts;
  if (!Array.isArray(list)) return [];
  return list.flatMap((c) => {
    const r = rebaseConflict.safeParse(c);
    return r.success ? [r.data] : [];
  });
}

const KIND: Record<RebaseConflict['kind'], string> = {
  insert_exists: 'the parent already has this key',
  row_missing: 'the parent no longer has this row',
  row_changed: 'the parent changed this row since the fork',
  ddl_failed: 'this DDL fails on the parent',
  statement_failed: 'this change fails on the parent',
  no_key: 'no primary key or replica identity index',
};

/** `k=v, …` of a key or row, short. */
export function rowText(row: Record<string, string | null> | null, max = 160): string {
  if (!row) return '(none)';
  const text = Object.entries(row)
    .map(([k, v]) => `${k}=${v === null ? 'NULL' : v}`)
    .join(', ');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** What each surface shows of one conflict: a headline, then the statement, key and parent's row. */
export function describeRebaseConflict(c: RebaseConflict): { headline: string; details: string[] } {
  const where = c.table ? ` on ${c.table}` : '';
  const headline = `${c.kind}${where}: ${KIND[c.kind]}`;
  const details: string[] = [];
  if (c.statement) details.push(`branch: ${c.statement}`);
  if (c.key) details.push(`key: ${rowText(c.key)}`);
  if (c.kind === 'insert_exists' || c.kind === 'row_changed' || c.kind === 'row_missing') details.push(`parent now: ${rowText(c.current)}`);
  details.push(`why: ${c.message}`);
  return { headline, details };
}
