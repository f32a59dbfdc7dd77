import { describe, expect, it } from 'vitest';
import { parseChange } from '../../src/agent/capture/decode.ts';
import { splitStatements, firesEventTrigger } from '../../src/agent/capture/sql-split.ts';
import { assemble, parseTextArray } from '../../src/agent/capture/assemble.ts';
import type { DecodedRow } from '../../src/agent/capture/assemble.ts';
import { lsnBigint, lsnText } from '../../src/agent/capture/lsn.ts';

describe('test_decoding output', () => {
  it('reads quoted names, array and quoted type names, every kind of value', () => {
    const c = parseChange(
      `table "My Schema"."Odd ""T""": INSERT: id[integer]:-1.5e+3 "we ird"[text]:'it''s: new-tuple: x' tags[text[]]:'{a,"b c"}' ` +
        `t["char"]:'x' b[boolean]:true bits[bit varying]:B'0101' n[numeric]:null big[text]:unchanged-toast-datum`,
    );
    expect(c).toEqual({
      kind: 'insert',
      table: { schema: 'My Schema', name: 'Odd "T"' },
      row: [
        { name: 'id', type: 'integer', value: '-1.5e+3' },
        { name: 'we ird', type: 'text', value: "it's: new-tuple: x" },
        { name: 'tags', type: 'text[]', value: '{a,"b c"}' },
        { name: 't', type: '"char"', value: 'x' },
        { name: 'b', type: 'boolean', value: 'true' },
        { name: 'bits', type: 'bit varying', value: '0101' },
        { name: 'n', type: 'numeric', value: null },
        { name: 'big', type: 'text', value: null, unchanged: true },
      ],
    });
  });

  it('puts NULL columns left out of an old row back from the new row', () => {
    const c = parseChange("table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:1 note[text]:'x'");
    expect(c).toEqual({
      kind: 'update',
      table: { schema: 'public', name: 't' },
      old: [
        { name: 'id', type: 'integer', value: '1' },
        { name: 'note', type: 'text', value: null },
      ],
      row: [
        { name: 'id', type: 'integer', value: '1' },
        { name: 'note', type: 'text', value: 'x' },
      ],
    });
    expect(parseChange("table public.t: UPDATE: id[integer]:1 note[text]:'x'")).toMatchObject({ kind: 'update', old: null });
    expect(parseChange('table public.t: DELETE: (no-tuple-data)')).toMatchObject({ kind: 'delete', old: null });
  });

  it('reads a TRUNCATE of several tables', () => {
    expect(parseChange('table public.a, s."B": TRUNCATE: restart_seqs cascade')).toEqual({
      kind: 'truncate',
      tables: [
        { schema: 'public', name: 'a' },
        { schema: 's', name: 'B' },
      ],
    });
  });
});

describe('statement splitting', () => {
  it('splits on semicolons outside quotes, dollar quotes, comments and BEGIN ATOMIC bodies', () => {
    const sql = `CREATE TABLE a (x text DEFAULT ';'); -- a comment; with a semicolon
      /* block; /* nested; */ still */ CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
      DO $x$ BEGIN PERFORM 1; END $x$; SELECT E'it\\'s; fine'; CREATE VIEW "v;1" AS SELECT 1;`;
    const parts = splitStatements(sql);
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe("CREATE TABLE a (x text DEFAULT ';')");
    expect(parts[1]).toMatch(/CREATE FUNCTION f\(\).*END$/s);
    expect(parts[2]).toBe('DO $x$ BEGIN PERFORM 1; END $x$');
    expect(parts[4]).toBe('CREATE VIEW "v;1" AS SELECT 1');
  });

  it('knows which statements fire the event trigger', () => {
    expect(firesEventTrigger('create index on t (x)')).toBe(true);
    expect(firesEventTrigger('GRANT SELECT ON t TO app')).toBe(true);
    expect(firesEventTrigger('GRANT app TO other')).toBe(false);
    expect(firesEventTrigger('CREATE ROLE app')).toBe(false);
    expect(firesEventTrigger('CREATE TEMP TABLE t (x int)')).toBe(false);
    expect(firesEventTrigger('INSERT INTO t VALUES (1)')).toBe(false);
  });
});

describe('transactions from decoded rows', () => {
  const ddlRow = (tag: string, query: string, objects = '{}') =>
    `table _vela.ddl_log: INSERT: tag[text]:'${tag}' query[text]:'${query.replace(/'/g, "''")}' search_path[text]:'public' role[text]:'vela_owner' objects[text[]]:'${objects}' stmt_at[timestamp with time zone]:'2026-12-03 04:00:00+00'`;
  const tx = (xid: string, commit: string, rows: string[]): DecodedRow[] => [
    { lsn: '0/10', xid, data: `BEGIN ${xid}` },
    ...rows.map((data) => ({ lsn: '0/11', xid, data })),
    { lsn: commit, xid, data: `COMMIT ${xid}` },
  ];

  it('gives each DDL command of a multi-statement query its own text, in order with the rows', () => {
    const q = 'CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a VALUES (1); CREATE INDEX ai ON a (id)';
    const [t] = assemble(tx('7', '0/20', [ddlRow('CREATE TABLE', q), 'table public.a: INSERT: id[integer]:1', ddlRow('CREATE INDEX', q)]));
    expect(t.changes.map((c) => (c.kind === 'ddl' ? c.sql : c.kind))).toEqual([
      'CREATE TABLE a (id int PRIMARY KEY)',
      'insert',
      'CREATE INDEX ai ON a (id)',
    ]);
    expect(t).toMatchObject({ xid: '7', lsn: '0/20' });
  });

  it('logs a DO block once, drops CREATE TABLE AS rows, leaves out a transaction cut short', () => {
    const rows = [
      ...tx('8', '0/30', [
        ddlRow('CREATE TABLE', "DO $$ BEGIN EXECUTE 'CREATE TABLE d (x int)'; EXECUTE 'CREATE TABLE e (x int)'; END $$"),
      ]),
      ...tx('8', '0/30', []).slice(0, 0),
      ...tx('9', '0/40', [
        'table public.c: INSERT: id[integer]:1',
        ddlRow('CREATE TABLE AS', 'CREATE TABLE c AS SELECT 1 AS id', '{public.c}'),
      ]),
      { lsn: '0/50', xid: '10', data: 'BEGIN 10' },
    ];
    const txs = assemble(rows);
    expect(txs).toHaveLength(2);
    expect(txs[0].changes).toEqual([
      {
        kind: 'ddl',
        tag: 'CREATE TABLE',
        sql: "DO $$ BEGIN EXECUTE 'CREATE TABLE d (x int)'; EXECUTE 'CREATE TABLE e (x int)'; END $$",
        searchPath: 'public',
        role: 'vela_owner',
      },
    ]);
    expect(txs[1].changes.map((c) => c.kind)).toEqual(['ddl']);
  });

  it('reads text arrays and orders LSNs', () => {
    expect(parseTextArray('{public.a,"public.\\"B\\""}')).toEqual(['public.a', 'public."B"']);
    expect(lsnBigint('1/0') > lsnBigint('0/FFFFFFFF')).toBe(true);
    expect(lsnText(lsnBigint('16/B374D848'))).toBe('16/B374D848');
  });
});
