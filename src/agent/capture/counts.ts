import type { CapturedTransaction, ColumnValue, QualifiedName, TableChangeCounts } from './change-log-types.ts';
import { tableKey } from './change-log.ts';

/**
 * Row counts per table from a change log: every decoded row operation counts once (a row inserted
 * and then updated counts as one insert and one update). TRUNCATE names no rows and adds nothing.
 * `sample`: up to N distinct keys per table, by primary key columns when known, else the whole row.
 */
export async function countChanges(
  txs: AsyncIterable<CapturedTransaction>,
  opts: { sample?: number; keys?: Record<string, string[]> } = {},
): Promise<TableChangeCounts[]> {
  const byTable = new Map<string, TableChangeCounts & { seen?: Set<string> }>();
  const want = opts.sample ?? 0;
  const entry = (t: QualifiedName) => {
    const k = tableKey(t);
    let e = byTable.get(k);
    if (!e) {
      e = { table: { schema: t.schema, name: t.name }, inserted: 0, updated: 0, deleted: 0 };
      if (want > 0) {
        e.sample = [];
        e.seen = new Set();
      }
      byTable.set(k, e);
    }
    return e;
  };
  const sample = (e: TableChangeCounts & { seen?: Set<string> }, cols: ColumnValue[] | null) => {
    if (!e.sample || !e.seen || !cols || e.sample.length >= want) return;
    const keyCols = opts.keys?.[tableKey(e.table)];
    const picked = keyCols ? cols.filter((c) => keyCols.includes(c.name)) : cols;
    const key = Object.fromEntries(picked.map((c) => [c.name, c.value]));
    const id = JSON.stringify(key);
    if (e.seen.has(id)) return;
    e.seen.add(id);
    e.sample.push(key);
  };
  for await (const tx of txs) {
    for (const ch of tx.changes) {
      if (ch.kind === 'insert') {
        const e = entry(ch.table);
        e.inserted++;
        sample(e, ch.row);
      } else if (ch.kind === 'update') {
        const e = entry(ch.table);
        e.updated++;
        sample(e, ch.old ?? ch.row);
      } else if (ch.kind === 'delete') {
        const e = entry(ch.table);
        e.deleted++;
        sample(e, ch.old);
      }
    }
  }
  return [...byTable.values()].map(({ seen: _seen, ...rest }) => rest).sort((a, b) => tableKey(a.table).localeCompare(tableKey(b.table)));
}
