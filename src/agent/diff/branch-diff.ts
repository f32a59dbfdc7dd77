import { VelaError } from '../../core/errors.ts';
import type { DiffResult } from '../../core/api/responses.ts';
import type { BranchManager } from '../branches/manager.ts';
import type { BranchRecord } from '../branches/registry.ts';
import type { ChangeLogReader, TableChangeCounts } from '../capture/change-log-types.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import { adminTarget } from '../provisioner/credentials.ts';
import { readCatalog } from './catalog.ts';
import type { Catalog } from './catalog.ts';
import { diffCatalogs } from './schema-diff.ts';

export interface BranchDifferParts {
  manager: Pick<BranchManager, 'get'>;
  pg: Pick<PostgresControl, 'withClient'>;
  /** The change log's reader; none (no capture on this agent): `data` is null. */
  changeLog?: ChangeLogReader | null;
}

/**
 * `GET /v1/branches/:name/diff`: the schema of a branch against its parent's (same database name
 * in both clusters, read as the superuser over each unix socket) and the rows it changed since
 * its fork, from its change log. Reads only: no lock, no state change.
 */
export class BranchDiffer {
  private readonly parts: BranchDifferParts;
  constructor(parts: BranchDifferParts) {
    this.parts = parts;
  }

  async diff(name: string, opts: { rows?: number } = {}): Promise<DiffResult> {
    const { manager } = this.parts;
    const rec = manager.get(name);
    if (!rec.parent) throw new VelaError('conflict', 409, `branch ${name} has no parent to diff against`);
    const parent = manager.get(rec.parent);
    for (const r of [parent, rec]) running(r, name);
    const [from, to] = await Promise.all([this.catalog(parent, rec.database, name), this.catalog(rec, rec.database, name)]);
    const schema = diffCatalogs(from, to);
    const { data, note } = await this.counts(name, opts.rows ?? 0);
    return {
      parent: parent.name,
      sql: schema.statements.length ? `${schema.statements.join('\n\n')}\n` : '',
      summary: schema.summary,
      objects: schema.objects,
      data: data?.map((t) => (opts.rows ? t : { table: t.table, inserted: t.inserted, updated: t.updated, deleted: t.deleted })) ?? null,
      ...(note ? { dataNote: note } : {}),
    };
  }

  /** The change log's counts; a branch without a usable log (409 from capture) still gets its schema diff. */
  private async counts(name: string, sample: number): Promise<{ data: TableChangeCounts[] | null; note?: string }> {
    if (!this.parts.changeLog) return { data: null, note: 'this agent captures no changes' };
    try {
      return { data: await this.parts.changeLog.counts(name, { sample }) };
    } catch (err) {
      if (err instanceof VelaError && err.status === 409) return { data: null, note: err.message };
      throw err;
    }
  }

  private async catalog(rec: BranchRecord, database: string, diffed: string): Promise<Catalog> {
    try {
      return await this.parts.pg.withClient(adminTarget(rec), readCatalog, database);
    } catch (err) {
      // A reset, stop or delete that raced this read: say which branch moved rather than a 500.
      const now = this.parts.manager.get(rec.name);
      running(now, diffed);
      if ((err as { code?: string }).code === '3D000')
        throw new VelaError(
          'conflict',
          409,
          `branch ${rec.name} has no database ${database}: the diff compares the same database in both branches`,
        );
      throw err;
    }
  }
}

function running(r: BranchRecord, diffed: string): void {
  if (r.state === 'ready') return;
  const who = r.name === diffed ? `branch ${r.name}` : `parent ${r.name} of ${diffed}`;
  const hint = r.state === 'stopped' ? `: start it (vela-branch start ${r.name}) and retry` : '';
  throw new VelaError('conflict', 409, `${who} is ${r.state}${hint}; the diff reads both running branches`);
}
