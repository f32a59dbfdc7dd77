import type { CapturedTransaction, Change, ChangeLogReader, ColumnValue } from '../../src/agent/capture/change-log-types.ts';
import { sql } from './engine-harness.ts';

/** A hand-written change log (what capture would have logged), so replay is tested on its own. */
export class FakeLog implements ChangeLogReader {
  readonly logs = new Map<string, CapturedTransaction[]>();
  add(branch: string, changes: Change[]): void {
    const list = this.logs.get(branch) ?? [];
    list.push({ seq: list.length + 1, xid: String(700 + list.length), lsn: `0/${list.length + 1}`, changes });
    this.logs.set(branch, list);
  }
  async *transactions(branch: string): AsyncIterable<CapturedTransaction> {
    for (const tx of this.logs.get(branch) ?? []) yield await Promise.resolve(tx);
  }
  counts(): Promise<never[]> {
    return Promise.resolve([]);
  }
}

export const ITEMS = { schema: 'public', name: 'items' };
export const int = (name: string, v: number | null): ColumnValue => ({ name, type: 'integer', value: v === null ? null : String(v) });
export const txt = (name: string, v: string | null): ColumnValue => ({ name, type: 'text', value: v });
export const ddl = (text: string): Change => ({ kind: 'ddl', tag: 'X', sql: text, searchPath: '"$user", public', role: 'vela_owner' });

/** The parent's starting data: items 1..10. */
export const PARENT_SEED =
  "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g";
/** What the parent does after the fork: a new column and two rows. */
export const PARENT_MOVES_ON =
  "ALTER TABLE items ADD COLUMN price int DEFAULT 7; INSERT INTO items VALUES (11, 'item 11', 9), (12, 'item 12', 9)";

/** The branch's own work: each statement, and what capture logs for it. */
export const FEATURE_WORK: Array<[string, Change[]]> = [
  ['CREATE TABLE notes (id int PRIMARY KEY, body text)', [ddl('CREATE TABLE notes (id int PRIMARY KEY, body text)')]],
  [
    "INSERT INTO notes VALUES (1, 'hello')",
    [{ kind: 'insert', table: { schema: 'public', name: 'notes' }, row: [int('id', 1), txt('body', 'hello')] }],
  ],
  ["INSERT INTO items VALUES (100, 'branch item')", [{ kind: 'insert', table: ITEMS, row: [int('id', 100), txt('name', 'branch item')] }]],
  [
    "UPDATE items SET name = 'renamed' WHERE id = 3",
    [{ kind: 'update', table: ITEMS, old: [int('id', 3), txt('name', 'item 3')], row: [int('id', 3), txt('name', 'renamed')] }],
  ],
  ['DELETE FROM items WHERE id = 4', [{ kind: 'delete', table: ITEMS, old: [int('id', 4), txt('name', 'item 4')] }]],
];

/** md5 over a table's rows in order: equal means byte-for-byte the same data. */
export async function checksum(uri: string, table = 'items'): Promise<string> {
  const rows = await sql<{ m: string }>(uri, `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS m FROM ${table} t`);
  return rows[0].m;
}
