import type { Change, ColumnValue } from '../capture/change-log-types.ts';
import { tableLabel } from './catalog.ts';

const MAX_VALUE = 120;
const MAX_STATEMENT = 2000;

/** A value as a SQL literal for people to read (conflict reports only: replay never builds SQL from values). */
function literal(v: string | null): string {
  if (v === null) return 'NULL';
  const short = v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v;
  return `'${short.replace(/'/g, "''")}'`;
}

const ident = (name: string) => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);
const assignments = (cols: ColumnValue[]) => cols.map((c) => `${ident(c.name)} = ${literal(c.value)}`);

/** The branch's change as one SQL statement, the way a conflict report shows it. */
export function describeChange(change: Change, key: string[]): string {
  const where = (cols: ColumnValue[] | null) => {
    const k = (cols ?? []).filter((c) => key.includes(c.name));
    return k.length ? ` WHERE ${assignments(k).join(' AND ')}` : '';
  };
  let text: string;
  switch (change.kind) {
    case 'ddl':
      text = change.sql.trim();
      break;
    case 'insert':
      text = `INSERT INTO ${tableLabel(change.table)} (${change.row.map((c) => ident(c.name)).join(', ')}) VALUES (${change.row.map((c) => literal(c.value)).join(', ')})`;
      break;
    case 'update': {
      const set = change.row.filter((c) => !c.unchanged);
      text = `UPDATE ${tableLabel(change.table)} SET ${assignments(set).join(', ')}${where(change.old ?? change.row)}`;
      break;
    }
    case 'delete':
      text = `DELETE FROM ${tableLabel(change.table)}${where(change.old)}`;
      break;
    case 'truncate':
      text = `TRUNCATE ${change.tables.map(tableLabel).join(', ')}`;
      break;
    case 'sequence':
      text = `SELECT setval('${tableLabel(change.sequence)}', ${change.value})`;
      break;
  }
  return text.length > MAX_STATEMENT ? `${text.slice(0, MAX_STATEMENT)}…` : text;
}
