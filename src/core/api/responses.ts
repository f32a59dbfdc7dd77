import { z } from 'zod';
import { branchName, branchState, count, labels, port, storageKind, timestamp } from './fields.ts';

/** Response shapes of the agent API. Objects are not strict: a newer agent may add fields. */

export const connectionInfo = z
  .object({
    host: z.string(),
    port,
    database: z.string(),
    user: z.string(),
    password: z.string(),
    uri: z.string().meta({ description: 'a libpq URI that psql accepts' }),
  })
  .meta({ id: 'ConnectionInfo', description: 'how to connect; only for callers allowed to write the branch' });
export type ConnectionInfo = z.infer<typeof connectionInfo>;

const bytesOrNull = z.number().int().min(0).nullable();
const msOrNull = z.number().min(0).nullable();

export const branch = z
  .object({
    name: branchName,
    parent: branchName.nullable(),
    state: branchState,
    error: z.string().optional().meta({ description: 'why the branch failed' }),
    host: z.string(),
    port,
    database: z.string(),
    user: z.string(),
    directPort: port.optional().meta({
      description: "the branch's own postgres port, when host/port/database lead through the agent's postgres proxy",
    }),
    createdAt: timestamp,
    updatedAt: timestamp,
    expiresAt: timestamp.nullable(),
    protected: z.boolean(),
    labels,
    storage: z.object({ driver: z.string(), exclusiveBytes: bytesOrNull }),
    timings: z.object({ createMs: msOrNull, resetMs: msOrNull.optional(), rebaseMs: msOrNull.optional() }),
    replication: z
      .object({ lagBytes: bytesOrNull, lagSeconds: z.number().nullable() })
      .nullable()
      .optional()
      .meta({ description: 'a streaming replica main: how far behind its source' }),
    connection: connectionInfo.optional(),
  })
  .meta({
    id: 'Branch',
    description:
      "a branch; connection only for callers allowed to write it and only when ready (or stopped, when the agent's postgres proxy wakes it on connect)",
  });
export type Branch = z.infer<typeof branch>;

export const createResult = z
  .object({ branch, created: z.boolean().meta({ description: 'false: it existed and ifExists was return' }) })
  .meta({ id: 'CreateResult' });
export type CreateResult = z.infer<typeof createResult>;

export const branchList = z.object({ branches: z.array(branch) }).meta({ id: 'BranchList' });
export type BranchList = z.infer<typeof branchList>;

export const deleteResult = z.object({ deleted: z.array(branchName).meta({ description: 'children first' }) }).meta({ id: 'DeleteResult' });
export type DeleteResult = z.infer<typeof deleteResult>;

export const initResult = z.object({ branch }).meta({ id: 'InitResult' });
export type InitResult = z.infer<typeof initResult>;

const objectChanges = z.object({ added: z.array(z.string()), dropped: z.array(z.string()), changed: z.array(z.string()) });

export const diffObjectKinds = [
  'schemas',
  'extensions',
  'types',
  'sequences',
  'tables',
  'columns',
  'constraints',
  'indexes',
  'views',
  'functions',
  'triggers',
  'policies',
] as const;
export type DiffObjectKind = (typeof diffObjectKinds)[number];
/** One object of each kind, for summaries ("table public.items added"). */
export const diffObjectNoun: Record<DiffObjectKind, string> = {
  schemas: 'schema',
  extensions: 'extension',
  types: 'type',
  sequences: 'sequence',
  tables: 'table',
  columns: 'column',
  constraints: 'constraint',
  indexes: 'index',
  views: 'view',
  functions: 'function',
  triggers: 'trigger',
  policies: 'policy',
};

export const tableChangeCounts = z
  .object({
    table: z.object({ schema: z.string(), name: z.string() }),
    inserted: count,
    updated: count,
    deleted: count,
    sample: z
      .array(z.record(z.string(), z.string().nullable()))
      .optional()
      .meta({ description: 'with ?rows=N: up to N keys (key column → text value) of changed rows' }),
  })
  .meta({ id: 'TableChangeCounts' });
export type TableChangeCountsView = z.infer<typeof tableChangeCounts>;

export const diffResult = z
  .object({
    parent: branchName.optional().meta({ description: 'the branch diffed against' }),
    sql: z.string().meta({ description: 'the migration from the parent to the branch; empty when the schemas are equal' }),
    summary: z.array(z.string()).meta({ description: 'one line per schema change, e.g. "table public.items added"' }),
    objects: z
      .partialRecord(z.enum(diffObjectKinds), objectChanges)
      .optional()
      .meta({ description: 'the schema changes by kind of object (kinds without changes left out)' }),
    data: z.array(tableChangeCounts).nullable().optional().meta({
      description: 'rows the branch inserted, updated and deleted since its fork, per table; null: no change log for this branch',
    }),
    dataNote: z.string().optional().meta({ description: 'why data is null, e.g. a branch made before change capture existed' }),
  })
  .meta({ id: 'DiffResult' });
export type DiffResult = z.infer<typeof diffResult>;

const textRow = z.record(z.string(), z.string().nullable());

export const rebaseConflict = z
  .object({
    kind: z.enum(['insert_exists', 'row_missing', 'row_changed', 'ddl_failed', 'statement_failed', 'no_key']).meta({
      description:
        'insert_exists: the branch inserted a key the parent now has; row_missing / row_changed: the branch updated or deleted a row the parent deleted or changed since the fork; ddl_failed: a DDL statement of the branch fails on the parent (e.g. the same column added on both sides); statement_failed: a row change fails for another reason; no_key: a table without a primary key or replica identity index (refused before anything is replayed)',
    }),
    table: z.string().nullable().meta({ description: 'schema.table, when the change is about one' }),
    key: textRow.nullable().meta({ description: 'the row key (column → value in PostgreSQL text form)' }),
    statement: z.string().meta({ description: "the branch's change as SQL (values shortened)" }),
    current: textRow.nullable().meta({ description: "the parent's current row with that key (null: none)" }),
    message: z.string().meta({ description: 'what PostgreSQL or the comparison said' }),
    seq: z.number().int().min(0).meta({ description: "the transaction's position in the branch's change log (0: before replay)" }),
  })
  .meta({ id: 'RebaseConflict', description: 'where a rebase stopped; the branch was left exactly as it was' });
export type RebaseConflict = z.infer<typeof rebaseConflict>;

export const health = z.object({ ok: z.boolean(), version: z.string(), storage: storageKind }).meta({ id: 'Health' });
export type Health = z.infer<typeof health>;

export const caCertificate = z
  .object({ pem: z.string().meta({ description: 'PEM of the CA that issued the branch postgres certificates' }) })
  .meta({ id: 'CaCertificate' });
export type CaCertificate = z.infer<typeof caCertificate>;

export const buildProgress = z
  .object({
    running: z.boolean(),
    mode: z.enum(['empty', 'logical', 'physical']).nullable(),
    phase: z.string(),
    tablesDone: count,
    tablesTotal: count,
    bytesDone: count,
    bytesTotal: count,
    startedAt: timestamp.nullable(),
    finishedAt: timestamp.nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'BuildProgress', description: 'what the current (or last) build of main is doing' });
export type BuildProgress = z.infer<typeof buildProgress>;

export const auditRecord = z
  .object({
    id: z.number().int().min(1),
    time: timestamp,
    actor: z.string(),
    action: z.string(),
    branch: z.string().nullable(),
    result: z.enum(['ok', 'error', 'denied']),
    status: z.number().int(),
    requestId: z.string().optional(),
    detail: z.string().optional(),
  })
  .meta({ id: 'AuditRecord' });
export type AuditRecord = z.infer<typeof auditRecord>;

export const auditList = z.object({ records: z.array(auditRecord) }).meta({ id: 'AuditList' });
export type AuditList = z.infer<typeof auditList>;

export const doctorReport = z
  .object({
    ok: z.boolean().meta({ description: 'true when nothing was set aside' }),
    records: z
      .array(z.object({ branch: z.string(), file: z.string(), reason: z.string().nullable() }))
      .meta({ description: 'registry records that could not be read, moved to state/quarantine/' }),
    unclaimed: z.array(z.string()).meta({ description: 'volumes kept in place because their record is unreadable' }),
    volumes: z
      .array(z.object({ volume: z.string(), branch: z.string() }))
      .meta({ description: 'volumes no record claimed, renamed into quarantine (never deleted)' }),
  })
  .meta({ id: 'DoctorReport' });
export type DoctorReport = z.infer<typeof doctorReport>;

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({
        description: 'machine-readable, e.g. bad_request, forbidden, not_found, conflict, capacity (503: no room to run one more branch)',
      }),
      message: z.string().meta({ description: 'what to fix; never carries secrets or internals' }),
      conflicts: z.array(rebaseConflict).optional().meta({ description: 'rebase (409): where it stopped' }),
    }),
  })
  .meta({ id: 'Error' });
export type ApiErrorBody = z.infer<typeof errorBody>;

export const metricsText = z.string().meta({ description: 'Prometheus text exposition format 0.0.4' });
export const openApiDocumentSchema = z
  .object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }), paths: z.record(z.string(), z.unknown()) })
  .meta({ id: 'OpenApiDocument', description: 'this document' });
export type OpenApiDocument = z.infer<typeof openApiDocumentSchema>;
