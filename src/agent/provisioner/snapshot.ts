import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '../storage/driver.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { BranchRecord } from '../branches/registry.ts';
import { adminTarget } from './credentials.ts';
import { conflict } from '../../core/errors.ts';
import type { PhaseClock } from './phases.ts';

export interface SnapshotParts {
  storage: StorageDriver;
  pg: PostgresControl;
  pgUser: OsUser | null;
}

/** Copies the parent's data directory into the child's new volume in a way postgres can start from. */
export async function snapshotBranch(parts: SnapshotParts, parent: BranchRecord, child: string, clock?: PhaseClock): Promise<void> {
  const { storage, pg } = parts;
  const parentDir = storage.volumePath(parent.name);
  const tablespaces = await readdir(join(parentDir, 'pg_tblspc')).catch(() => []);
  if (tablespaces.length > 0) {
    throw conflict(`branch ${parent.name} uses tablespaces outside its data directory; vela-branch cannot snapshot those`);
  }
  const running = (await pg.pid(parentDir)) !== null;
  if (storage.atomic || !running) {
    // Atomic over the whole data dir including pg_wal: the child starts with a short crash recovery.
    // The CHECKPOINT keeps it short: replaying a busy parent's WAL since its last checkpoint costs
    // several times the flush, and promotion instead of crash recovery costs as much as it saves
    // (bench/create-strategies.ts).
    if (running) await pg.withClient(adminTarget(parent), (c) => c.query('CHECKPOINT'));
    clock?.mark('checkpoint');
    await storage.snapshot(parent.name, child);
    clock?.mark('snapshot');
    return;
  }
  await backupCopy(parts, parent, child);
}

/** Per-file clones of a running parent are only consistent inside pg_backup_start/stop plus backup_label. */
async function backupCopy(parts: SnapshotParts, parent: BranchRecord, child: string): Promise<void> {
  const { storage, pg } = parts;
  if (pg.bins.major < 15) throw conflict('reflink and copy storage need PostgreSQL 15 or newer for a running parent');
  await pg.withClient(adminTarget(parent), async (c) => {
    await c.query('SELECT pg_backup_start($1, true)', [`vela-${child}`]);
    let stopped: { labelfile: string; spcmapfile: string | null } | undefined;
    try {
      await storage.snapshot(parent.name, child, { skip: ['pg_wal'] });
    } finally {
      const r = await c.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(false)');
      stopped = r.rows[0];
    }
    // WAL copied after pg_backup_stop holds everything the child needs to reach consistency.
    await storage.copyEntry!(parent.name, child, 'pg_wal');
    const dir = storage.volumePath(child);
    await pg.writeDataFile(dir, 'backup_label', stopped.labelfile);
    if (stopped.spcmapfile) await pg.writeDataFile(dir, 'tablespace_map', stopped.spcmapfile);
  });
}
