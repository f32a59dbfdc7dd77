import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BranchManager } from './manager.ts';
import { ROOT_BRANCH } from '../../core/names.ts';
import { processesUnder, volumeOf, kill, alive } from '../postgres/processes.ts';

export interface RecoveryReport {
  restarted: string[];
  adopted: string[];
  cleaned: string[];
  failed: string[];
}

/**
 * After a crash or restart: ready branches come back (same port and credentials), half-made
 * ones and orphan volumes/processes are removed. Returns what was cleaned, for the log.
 */
export async function recoverBranches(m: BranchManager): Promise<RecoveryReport> {
  const d = m.deps;
  const out = { restarted: [] as string[], adopted: [] as string[], cleaned: [] as string[], failed: [] as string[] };
  // openEngine loaded the registry once, before the root builder's own recovery ran on it.
  const records = d.registry.all();
  const root = d.storage.volumePath(ROOT_BRANCH).replace(/\/main$/, '');
  const keep = new Set(records.filter((r) => r.state === 'ready' || r.state === 'stopped' || r.state === 'failed').map((r) => r.name));

  // 1. Processes working on anything we do not keep (pg_ctl and postmasters of half-made branches).
  for (const proc of await processesUnder(root)) {
    const vol = volumeOf(proc, root);
    if (vol && keep.has(vol)) continue;
    kill(proc.pid, 'SIGKILL');
    out.cleaned.push(`process ${proc.pid} (${vol ?? '?'})`);
  }
  // Postmaster children exit once their parent is gone; wait so volumes can be deleted.
  for (const proc of await processesUnder(root)) {
    const vol = volumeOf(proc, root);
    if (vol && keep.has(vol)) continue;
    for (let i = 0; i < 100 && alive(proc.pid); i++) await new Promise((r) => setTimeout(r, 20));
  }

  // 2. Records of half-made or half-deleted branches. A half-done reset keeps its record (name,
  //    port, credentials) and is redone below, once its parent runs again.
  const redo: string[] = [];
  for (const rec of records) {
    if (rec.state === 'creating' && rec.resetting) {
      await d.storage.destroy(rec.name).catch((e) => d.log('error', `recovery: destroy ${rec.name}: ${(e as Error).message}`));
      await rm(d.pg.socketDir(rec.port), { recursive: true, force: true });
      rec.state = 'failed';
      rec.error = 'a reset was interrupted (agent crash); the agent redoes it on start';
      await d.registry.put(rec);
      redo.push(rec.name);
      out.cleaned.push(`interrupted reset of ${rec.name}`);
      continue;
    }
    if (rec.state === 'creating' || rec.state === 'deleting') {
      await d.storage.destroy(rec.name).catch((e) => d.log('error', `recovery: destroy ${rec.name}: ${(e as Error).message}`));
      await rm(d.pg.socketDir(rec.port), { recursive: true, force: true });
      await d.registry.remove(rec.name);
      out.cleaned.push(`${rec.state} branch ${rec.name}`);
    }
  }
  // 3. Volumes no record claims.
  for (const vol of await d.storage.list()) {
    if (d.registry.has(vol)) continue;
    await d.storage.destroy(vol);
    out.cleaned.push(`orphan volume ${vol}`);
  }
  // 4. Socket dirs of ports nobody owns.
  const ports = new Set(d.registry.all().map((r) => String(r.port)));
  for (const entry of await readdir(d.pg.socketRoot).catch(() => [] as string[])) {
    if (!ports.has(entry)) await rm(join(d.pg.socketRoot, entry), { recursive: true, force: true });
  }
  // 5. Ready branches: adopt a running postmaster or start it again.
  for (const rec of d.registry.all()) {
    if (rec.state !== 'ready') continue;
    const running = await d.pg.pid(d.storage.volumePath(rec.name));
    try {
      await m.locks.run(rec.name, () => m.startExisting(rec));
      (running ? out.adopted : out.restarted).push(rec.name);
    } catch {
      out.failed.push(rec.name);
    }
  }
  // 6. Interrupted resets, now that parents are up again.
  for (const name of redo) {
    try {
      await m.reset(name, { force: true });
      out.restarted.push(name);
    } catch {
      out.failed.push(name);
    }
  }
  if (out.cleaned.length) d.log('warn', `recovery cleaned: ${out.cleaned.join('; ')}`, { cleaned: out.cleaned });
  if (out.restarted.length || out.adopted.length) {
    d.log('info', `recovery: restarted ${out.restarted.length}, adopted ${out.adopted.length} running branches`, out);
  }
  if (out.failed.length) d.log('error', `recovery: could not start ${out.failed.join(', ')} (state failed, data kept)`);
  return out;
}
