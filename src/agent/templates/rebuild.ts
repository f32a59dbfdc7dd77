import type { BranchManager } from '../branches/manager.ts';
import type { BranchRecord, Registry } from '../branches/registry.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { StorageDriver } from '../storage/driver.ts';
import type { Runner } from '../runner.ts';
import type { LogFn } from '../logger.ts';
import { maskProblem, maskTemplate } from './masking.ts';
import type { MaskStep } from './masking.ts';

export interface Template {
  name: string;
  from: string;
  /** SQL run in the template after every rebuild (masking), as { name, sql }. */
  sql: MaskStep[];
}

export interface TemplateParts {
  manager: BranchManager;
  registry: Registry;
  storage: StorageDriver;
  pg: PostgresControl;
  runner: Runner;
  pgUser: OsUser | null;
  log: LogFn;
}

/**
 * (Re)builds templates (e.g. main-masked) from their parents through the state machine; the masking
 * SQL and the scrub run before a template opens to TCP or is marked ready. `onlyMissing`: just the
 * ones not servable now (missing, failed, or not masked for the data they hold). Every template is
 * tried; the first failure is thrown at the end.
 */
export async function rebuildTemplates(
  parts: TemplateParts,
  templates: Template[],
  opts: { onlyMissing?: boolean; onPhase?: (phase: string) => void } = {},
): Promise<void> {
  const { manager, log } = parts;
  let first: Error | null = null;
  for (const t of templates) {
    const current = manager.find(t.name);
    if (opts.onlyMissing && current?.mask && current.state !== 'failed' && !maskProblem(current)) continue;
    opts.onPhase?.(`template ${t.name}`);
    const prepare = async (rec: BranchRecord) => {
      const report = await maskTemplate({
        rec,
        steps: t.sql,
        pg: parts.pg,
        runner: parts.runner,
        pgUser: parts.pgUser,
        dataDir: parts.storage.volumePath(rec.name),
        save: (r) => parts.registry.put(r),
        onPhase: opts.onPhase,
      });
      log('info', `template ${t.name} masked and scrubbed`, { branch: t.name, ...report });
    };
    try {
      if (current) await manager.reset(t.name, { force: true, prepare });
      else await manager.create({ name: t.name, parent: t.from }, { prepare });
      await manager.patch(t.name, { protected: true, labels: { template: 'true' } });
    } catch (err) {
      // Never served unmasked: create removes it; reset leaves it `failed`, its record not masked.
      log('error', `template ${t.name} not built: ${(err as Error).message}`);
      first ??= err as Error;
    }
  }
  if (first) throw first;
}
