import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { BranchRecord } from '../branches/registry.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { Runner } from '../runner.ts';
import { adminTarget } from '../provisioner/credentials.ts';
import { conflict, VelaError } from '../../core/errors.ts';
import { quietSession, releaseHorizon, scrubDatabase } from './scrub.ts';
import type { ScrubReport } from './scrub.ts';

export interface MaskStep {
  name: string;
  sql: string;
}

/** New data in a template's volume (create or reset): not servable until its masking finishes. */
export function beginMaskBuild(rec: BranchRecord): string {
  const build = randomUUID();
  rec.mask = { build, maskedBuild: null };
  return build;
}

/** Why a template may not be served (ready, branched, started), or null when it may. */
export function maskProblem(rec: BranchRecord): string | null {
  if (!rec.mask || rec.mask.maskedBuild === rec.mask.build) return null;
  const why = rec.mask.error ? `its masking failed: ${rec.mask.error}` : 'its masking did not complete on the data it holds';
  return `branch ${rec.name} is a masked template and is not masked (${why}); fix its SQL if needed and rebuild it with refresh`;
}

/** 409 unless the template's current data went through masking and scrub. */
export function assertMasked(rec: BranchRecord): void {
  const problem = maskProblem(rec);
  if (problem) throw conflict(problem);
}

const WAL_FILE = /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$/;

/**
 * Runs a template's masking SQL as the superuser over its socket, then scrubs what the SQL replaced
 * (see scrub.ts). The record is marked masked for this build only after both finished; any failure
 * leaves it unservable with the reason in `mask.error`.
 */
export async function maskTemplate(p: {
  rec: BranchRecord;
  steps: MaskStep[];
  pg: PostgresControl;
  runner: Runner;
  pgUser: OsUser | null;
  dataDir: string;
  save: (rec: BranchRecord) => Promise<void>;
  onPhase?: (phase: string) => void;
}): Promise<ScrubReport> {
  const { rec, pg } = p;
  const build = beginMaskBuild(rec);
  await p.save(rec);
  const target = adminTarget(rec);
  const removeWal = async (names: string[]) => {
    const bad = names.find((n) => !WAL_FILE.test(n));
    if (bad) throw new Error(`unexpected file name in pg_wal: ${bad.slice(0, 80)}`);
    if (!names.length) return;
    // As the postgres OS user: root never follows a path that user can write.
    const as = p.pgUser ? { uid: p.pgUser.uid, gid: p.pgUser.gid } : {};
    await p.runner(['rm', '-f', '--', ...names.map((n) => join(p.dataDir, 'pg_wal', n))], as);
  };
  let report: ScrubReport;
  try {
    report = await pg.withClient(
      target,
      async (c) => {
        await quietSession(c);
        await releaseHorizon(c, (db, fn) => pg.withClient(target, fn, db));
        for (const step of p.steps) {
          p.onPhase?.(`template ${rec.name}: masking (${step.name})`);
          await c.query(step.sql).catch((e: unknown) => {
            throw new MaskError(`${step.name} failed: ${(e as Error).message}`);
          });
        }
        p.onPhase?.(`template ${rec.name}: scrubbing old row versions, statistics and WAL`);
        return scrubDatabase(c, { removeWal });
      },
      rec.database,
    );
  } catch (err) {
    const reason = err instanceof MaskError ? err.message : `scrub failed: ${(err as Error).message}`;
    rec.mask = { build, maskedBuild: null, error: reason };
    await p.save(rec);
    throw new VelaError('template_failed', 500, `template ${rec.name}: ${reason}`);
  }
  rec.mask = { build, maskedBuild: build };
  await p.save(rec);
  return report;
}

class MaskError extends Error {}
