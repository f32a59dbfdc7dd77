import type { RebaseParts } from './rebase-parts.ts';
import type { BranchRecord } from './registry.ts';
import { adminTarget } from '../provisioner/credentials.ts';
import { toApiError } from '../provisioner/failures.ts';
import { nextName, oldName } from '../../core/names.ts';

/**
 * The second half of a rebase and its crash recovery: the replayed volume `.next-<name>` swapped
 * in for the branch's (two renames, the old one kept as `.old-<name>` until the new one serves),
 * started on the branch's port, capture installed, then opened to clients.
 */
export class BranchSwap {
  private readonly parts: RebaseParts;

  constructor(parts: RebaseParts) {
    this.parts = parts;
  }

  /** Lets TCP logins in (`open`) or refuses them and disconnects every client (a rebase reads a quiet log). */
  async setTcp(rec: BranchRecord, open: boolean): Promise<void> {
    const { pg, storage } = this.parts;
    await pg.withClient(adminTarget(rec), async (c) => {
      const su = await c.query<{ rolname: string }>('SELECT rolname FROM pg_authid WHERE rolsuper ORDER BY 1');
      await pg.writeHba(storage.volumePath(rec.name), { superuser: rec.superuser, superusers: su.rows.map((r) => r.rolname), open });
      await c.query('SELECT pg_reload_conf()');
      if (open) return;
      // Connections authenticated before the reload would keep writing: end them.
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND usename <> current_user`,
      );
    });
  }

  /** Old volume out, new one in under the branch's name; any failure puts the old one back. */
  async swapIn(rec: BranchRecord): Promise<void> {
    const { storage, pg, log } = this.parts;
    const name = rec.name;
    await pg.stop(storage.volumePath(name), 'fast');
    await storage.rename(name, oldName(name));
    await this.step('rebase-renamed', name);
    await storage.rename(nextName(name), name);
    try {
      await this.finish(rec);
    } catch (err) {
      const e = toApiError(err, `rebase ${name}`);
      log('error', `rebase of ${name}: the rebased volume did not come up (${e.message}); the branch is put back as it was`);
      await this.putBack(rec);
      throw e;
    }
  }

  /** The swapped-in volume on the branch's port, capture installed, TCP open, ready; the old volume gone. */
  private async finish(rec: BranchRecord): Promise<void> {
    const { storage, pg, provisioner, registry, capture } = this.parts;
    const dir = storage.volumePath(rec.name);
    if (!(await pg.pid(dir))) {
      await pg.configure(dir, provisioner.settings(rec));
      await pg.writeHba(dir, { superuser: rec.superuser, open: false });
      await pg.start(rec.name, dir);
    }
    await this.step('rebase-started-in-place', rec.name);
    // After the replay, before any client: the replayed changes are not captured a second time.
    await capture?.install(rec);
    await this.setTcp(rec, true);
    await provisioner.waitForLogin(rec);
    await storage.destroy(oldName(rec.name));
    rec.state = 'ready';
    delete rec.error;
    delete rec.rebasing;
    await registry.put(rec);
  }

  /** The pre-rebase volume back under the branch's name, running as before. */
  private async putBack(rec: BranchRecord): Promise<void> {
    const { storage, pg, provisioner, registry } = this.parts;
    const name = rec.name;
    await pg.stop(storage.volumePath(name), 'immediate').catch(() => {});
    if (await storage.exists(oldName(name))) {
      if (await storage.exists(name)) await storage.destroy(name);
      await storage.rename(oldName(name), name);
    }
    delete rec.rebasing;
    try {
      await provisioner.start(rec);
      rec.state = 'ready';
    } catch (err) {
      rec.state = 'failed';
      rec.error = toApiError(err, `start ${name}`).message;
    }
    await registry.put(rec);
  }

  /**
   * After a crash, before the manager's recovery: a rebase still replaying is undone (the new volume
   * goes, the branch restarts as it was); one swapping is finished (the replay succeeded).
   */
  async recover(): Promise<string[]> {
    const { registry, storage, pg, log } = this.parts;
    const notes: string[] = [];
    for (const rec of registry.all()) {
      if (!rec.rebasing) continue;
      const name = rec.name;
      for (const v of [nextName(name), oldName(name)]) await pg.stop(storage.volumePath(v), 'immediate').catch(() => {});
      if (rec.rebasing.phase === 'replaying') {
        await storage.destroy(nextName(name));
        // Its postgres may still run with TCP closed: stopped here, the manager's recovery starts it open.
        await pg.stop(storage.volumePath(name), 'fast').catch(() => {});
        delete rec.rebasing;
        rec.state = 'ready';
        await registry.put(rec);
        notes.push(`interrupted rebase of ${name} undone (branch as before)`);
        continue;
      }
      try {
        await pg.stop(storage.volumePath(name), 'fast').catch(() => {});
        const hasNext = await storage.exists(nextName(name));
        if (hasNext && (await storage.exists(name)) && !(await storage.exists(oldName(name)))) await storage.rename(name, oldName(name));
        if (hasNext) await storage.rename(nextName(name), name);
        await this.finish(rec);
        notes.push(`interrupted rebase of ${name} finished`);
      } catch (err) {
        rec.state = 'failed';
        rec.error = `a rebase was interrupted and could not be finished: ${(err as Error).message.slice(0, 300)}`;
        delete rec.rebasing;
        await registry.put(rec);
        notes.push(`interrupted rebase of ${name} could not be finished`);
      }
    }
    if (notes.length) log('warn', `recovery: ${notes.join('; ')}`);
    return notes;
  }

  private async step(step: string, name: string): Promise<void> {
    if (this.parts.onStep) await this.parts.onStep(step, name);
  }
}
