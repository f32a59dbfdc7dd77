/**
 * The contract between change capture (which writes a branch's change log) and its readers
 * (rebase replays it, the data diff counts it). One ordered stream per branch: DDL and row changes
 * come out of logical decoding in commit order, DDL as rows of the reserved schema's log table.
 */

/** A table or sequence, by schema and name as PostgreSQL spells them (unquoted). */
export interface QualifiedName {
  schema: string;
  name: string;
}

/** One column value in PostgreSQL's text output form; `value: null` is SQL NULL. */
export interface ColumnValue {
  name: string;
  /** The type as logical decoding names it, e.g. `integer`, `text`, `character varying`, `timestamp with time zone`. */
  type: string;
  value: string | null;
  /** An update left this TOASTed value as it was: decoding did not send it; replay must keep the current one. */
  unchanged?: boolean;
}

export type Change =
  /** A DDL command as the branch ran it (one per command, even inside a multi-statement query). */
  | { kind: 'ddl'; tag: string; sql: string; searchPath: string; role: string }
  | { kind: 'insert'; table: QualifiedName; row: ColumnValue[] }
  /**
   * `old`: the row before (every column with REPLICA IDENTITY FULL, else the key columns), null when decoding sent none.
   * Capture gives every table REPLICA IDENTITY FULL. test_decoding leaves NULL columns out of old rows: capture puts
   * them back for updates (from the new row's columns); in a delete's `old`, a column that is absent was NULL.
   */
  | { kind: 'update'; table: QualifiedName; old: ColumnValue[] | null; row: ColumnValue[] }
  | { kind: 'delete'; table: QualifiedName; old: ColumnValue[] | null }
  | { kind: 'truncate'; tables: QualifiedName[] }
  /**
   * A sequence's last value (`setval(…, value, true)` restores it). Logical decoding carries no sequences: capture
   * reads every sequence that moved when it drains the branch and logs them as a transaction of their own, so the
   * value is at least what every transaction before it used (a rebase should keep the larger of it and the parent's).
   */
  | { kind: 'sequence'; sequence: QualifiedName; value: string };

/** One committed transaction of the branch, in commit order. */
export interface CapturedTransaction {
  /** Position in this branch's change log, from 1, without gaps. */
  seq: number;
  xid: string;
  /** Commit LSN in the branch's WAL, `X/Y`. */
  lsn: string;
  changes: Change[];
}

/** Per table: rows the branch inserted, updated and deleted since its fork (a rebase keeps counting). */
export interface TableChangeCounts {
  table: QualifiedName;
  inserted: number;
  updated: number;
  deleted: number;
  /** With a sample requested: up to N keys (key column → text value) of changed rows. */
  sample?: Array<Record<string, string | null>>;
}

/** What the agent's per-branch change log offers its readers (implemented in src/agent/capture/). */
export interface ChangeLogReader {
  /** Every transaction captured since the branch's fork, oldest first; drains the slot first when the branch runs. */
  transactions(branch: string): AsyncIterable<CapturedTransaction>;
  /** Row counts per table (tables with no row changes left out), drained first like `transactions`. */
  counts(branch: string, opts?: { sample?: number }): Promise<TableChangeCounts[]>;
}
