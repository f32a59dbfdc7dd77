import type { CapturedTransaction, Change } from './change-log-types.ts';
import { parseChange } from './decode.ts';
import type { RowChange } from './decode.ts';
import { CAPTURE_SCHEMA, DDL_LOG, SEQ_STATE } from './install-sql.ts';
import { firesEventTrigger, firstWord, splitStatements } from './sql-split.ts';

/** One row of pg_logical_slot_peek_changes(). */
export interface DecodedRow {
  lsn: string;
  xid: string;
  data: string;
}

/** A row the event trigger wrote into the DDL log. */
interface Firing {
  at: number; // index in the transaction's change list
  tag: string;
  query: string;
  searchPath: string;
  role: string;
  objects: string[];
  stmtAt: string;
}

/**
 * Turns decoded rows into whole transactions (BEGIN … COMMIT; a batch cut short keeps its last,
 * unfinished transaction out). Rows of the reserved schema become DDL and sequence changes.
 */
export function assemble(rows: DecodedRow[]): Array<Omit<CapturedTransaction, 'seq'>> {
  const out: Array<Omit<CapturedTransaction, 'seq'>> = [];
  let cur: { xid: string; changes: Array<Change | null>; firings: Firing[] } | null = null;
  for (const r of rows) {
    if (r.data.startsWith('BEGIN')) {
      cur = { xid: r.xid, changes: [], firings: [] };
    } else if (r.data.startsWith('COMMIT')) {
      if (cur) {
        const changes = finish(cur.changes, cur.firings);
        if (changes.length) out.push({ xid: cur.xid, lsn: r.lsn, changes });
      }
      cur = null;
    } else if (cur && r.data.startsWith('table ')) {
      const change = parseChange(r.data);
      if (change) addChange(cur, change);
    }
  }
  return out;
}

function addChange(cur: { changes: Array<Change | null>; firings: Firing[] }, change: RowChange): void {
  const table = change.kind === 'truncate' ? change.tables[0] : change.table;
  if (table.schema !== CAPTURE_SCHEMA) {
    if (change.kind === 'truncate') change.tables = change.tables.filter((t) => t.schema !== CAPTURE_SCHEMA);
    cur.changes.push(change);
    return;
  }
  const row = change.kind === 'insert' || change.kind === 'update' ? change.row : null;
  if (!row) return;
  const v = (name: string) => row.find((c) => c.name === name)?.value ?? '';
  if (table.name === DDL_LOG && change.kind === 'insert') {
    cur.firings.push({
      at: cur.changes.length,
      tag: v('tag'),
      query: v('query'),
      searchPath: v('search_path'),
      role: v('role'),
      objects: parseTextArray(v('objects')),
      stmtAt: v('stmt_at'),
    });
    cur.changes.push(null); // its place in the order; filled in by finish()
  } else if (table.name === SEQ_STATE) {
    cur.changes.push({ kind: 'sequence', sequence: { schema: v('seq_schema'), name: v('seq_name') }, value: v('value') });
  }
}

/**
 * Gives each event trigger firing its SQL: firings of one top-level query (same text, same
 * statement start) are matched, in order, with the query's statements that fire event triggers.
 * When they do not match one to one (DDL run from a function or DO block, an extension script),
 * the whole query is logged once, where its first firing was. CREATE TABLE AS rows, decoded before
 * the DDL that creates them, are dropped: replaying the DDL writes them again.
 */
function finish(changes: Array<Change | null>, firings: Firing[]): Change[] {
  const groups = new Map<string, Firing[]>();
  for (const f of firings) {
    const key = `${f.stmtAt}\u0000${f.query}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  for (const group of groups.values()) {
    const statements = splitStatements(group[0].query);
    const ddl = statements.filter(firesEventTrigger);
    const oneToOne = ddl.length === group.length && group.every((f, i) => firstWord(ddl[i]) === f.tag.split(' ')[0]);
    if (oneToOne) {
      group.forEach((f, i) => (changes[f.at] = ddlChange(f, ddl[i])));
      continue;
    }
    const sql = statements.length === 1 ? statements[0] : group[0].query;
    const tag = group.find((f) => f.tag.split(' ')[0] === firstWord(sql))?.tag ?? group[group.length - 1].tag;
    changes[group[0].at] = ddlChange({ ...group[group.length - 1], tag }, sql);
  }
  for (const f of firings) {
    if (f.tag !== 'CREATE TABLE AS' && f.tag !== 'SELECT INTO') continue;
    const made = new Set(f.objects);
    for (let i = 0; i < f.at; i++) {
      const c = changes[i];
      if (c?.kind !== 'insert') continue;
      const { schema, name } = c.table;
      if (made.has(`${quoteIdent(schema)}.${quoteIdent(name)}`) || made.has(`${schema}.${name}`)) changes[i] = null;
    }
  }
  return changes.filter((c): c is Change => c !== null);
}

function ddlChange(f: Firing, sql: string): Change {
  return { kind: 'ddl', tag: f.tag, sql, searchPath: f.searchPath, role: f.role };
}

/** quote_ident() as object_identity spells names. */
function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** A one-dimensional text[] in its output form ({a,"b c"}). */
export function parseTextArray(text: string): string[] {
  if (!text || text === '{}') return [];
  const out: string[] = [];
  let i = 1;
  while (i < text.length - 1) {
    if (text[i] === '"') {
      let v = '';
      i++;
      while (text[i] !== '"') {
        if (text[i] === '\\') i++;
        v += text[i++];
      }
      out.push(v);
      i += 2;
    } else {
      const end = text.indexOf(',', i);
      const stop = end < 0 ? text.length - 1 : end;
      out.push(text.slice(i, stop));
      i = stop + 1;
    }
  }
  return out;
}
