import type { QualifiedName } from '../capture/change-log-types.ts';
import pg from 'pg';
import { adminTarget, probeHost, rotateCredentials } from '../provisioner/credentials.ts';
import { snapshotBranch } from '../provisioner/snapshot.ts';
import { toApiError } from '../provisioner/failures.ts';
import { replay, ReplayConflict } from '../rebase/replay.ts';
import { keylessTables, tableLabel } from '../rebase/catalog.ts';
import type { BranchRecord } from './registry.ts';
import type { RebaseCapture, RebaseParts } from './rebase-parts.ts';
import { BranchSwap } from './rebase-swap.ts';
import { conflict, notFound, unavailable, VelaError } from '../../core/errors.ts';
import { nextName } from '../../core/names.ts';
import type { RebaseConflict } from '../../core/api/index.ts';

export type { RebaseCapture, RebaseParts };

/** The staging branch record gets no record of its own: a port it moves to lives only here. */
const noPersist = async (): Promise<void> => {};

/**
 * Rebase: the parent's current state snapshotted into a new volume beside the branch
 * (`.next-<name>`, its own port, TCP closed), the branch's change log replayed onto it, then
 * swapped in under the same name, port and credentials (rebase-swap.ts). The first conflict
 * discards the new volume: the branch is as it was and running again. The record carries
 * `rebasing` from before the first step, so recovery (rebase-swap.ts) finishes or undoes it.
 */
export class BranchRebaser {
  private readonly parts: RebaseParts;
  private readonly swap: BranchSwap;

  constructor(parts: RebaseParts) {
    this.parts = parts;
    this.swap = new BranchSwap(parts);
  }

  async rebase(name: string): Promise<BranchRecord> {
    const { registry, locks, provisioner, capture } = this.parts;
    return locks.run(name, async () => {
      const rec = registry.get(name);
      if (!rec) throw notFound(`branch ${name} does not exist`);
      const parent = this.checkable(rec);
      if (!capture) throw unavailable('this agent captures no branch changes, so there is nothing to rebase: use reset');
      if (rec.state === 'stopped') await this.startStopped(rec);
      const started = performance.now();
      const tmp: BranchRecord = { ...rec, name: nextName(name), port: await provisioner.allocatePort() };
      const tmpPort = tmp.port;
      rec.rebasing = { phase: 'replaying', startedAt: new Date().toISOString() };
      await registry.put(rec);
      try {
        await this.step('rebase-recorded', name);
        await this.swap.setTcp(rec, false);
        await this.refuseKeyless(rec, capture);
        await this.buildBeside(rec, tmp, parent, capture);
        rec.state = 'creating';
        rec.rebasing.phase = 'swapping';
        await registry.put(rec);
      } catch (err) {
        await this.undo(rec);
        if (err instanceof ReplayConflict) throw rebaseConflict(name, [err.conflict]);
        if (err instanceof VelaError) throw err;
        throw toApiError(err, `rebase ${name}`);
      } finally {
        provisioner.releasePort(tmpPort);
        provisioner.releasePort(tmp.port);
        await this.parts.pg.removeSocketDir(tmp.port).catch(() => {});
        await this.parts.pg.removeLog(tmp.name).catch(() => {});
      }
      await this.step('rebase-swapping', name);
      await this.swap.swapIn(rec);
      rec.timings.rebaseMs = Math.round(performance.now() - started);
      await registry.put(rec);
      this.parts.log('info', `rebased branch ${name} onto ${parent.name} in ${rec.timings.rebaseMs} ms`, { branch: name });
      return rec;
    });
  }

  /** Recovery of interrupted rebases (before the manager's own recovery): see BranchSwap.recover. */
  recover(): Promise<string[]> {
    return this.swap.recover();
  }

  private checkable(rec: BranchRecord): BranchRecord {
    const { registry, storage } = this.parts;
    if (!rec.parent) throw conflict(`branch ${rec.name} has no parent to rebase onto`);
    if (rec.mask) throw conflict(`branch ${rec.name} is a masked template: refresh rebuilds it through its masking SQL; rebase cannot`);
    if (rec.standby) throw conflict(`branch ${rec.name} is a streaming replica: it has no changes of its own`);
    if (this.parts.pg.bins.major < 15)
      throw conflict('rebase needs PostgreSQL 15 or newer (the replay is granted session_replication_role)');
    if (rec.state !== 'ready' && rec.state !== 'stopped')
      throw conflict(`branch ${rec.name} is ${rec.state}; only a ready or stopped branch can be rebased`);
    if (registry.children(rec.name).length > 0 && storage.kind === 'zfs') {
      throw conflict(`branch ${rec.name} has children; on ZFS delete them before rebasing it`);
    }
    const parent = registry.get(rec.parent);
    if (!parent) throw notFound(`parent branch ${rec.parent} does not exist`);
    if (parent.state !== 'ready' && parent.state !== 'stopped') throw conflict(`parent branch ${parent.name} is ${parent.state}`);
    return parent;
  }

  /** The change log is only complete once the branch has drained it: a stopped branch runs again first. */
  private async startStopped(rec: BranchRecord): Promise<void> {
    await this.parts.provisioner.start(rec);
    rec.state = 'ready';
    await this.parts.registry.put(rec);
  }

  /** Tables with row changes but no key, named before anything is replayed (their rows cannot be matched). */
  private async refuseKeyless(rec: BranchRecord, capture: RebaseCapture): Promise<void> {
    const tables = new Map<string, QualifiedName>();
    for await (const tx of capture.reader.transactions(rec.name)) {
      for (const ch of tx.changes) {
        if (ch.kind === 'update' || ch.kind === 'delete') tables.set(tableLabel(ch.table), ch.table);
      }
    }
    if (tables.size === 0) return;
    const keyless = await this.parts.pg.withClient(adminTarget(rec), (c) => keylessTables(c, [...tables.values()]), rec.database);
    if (keyless.length === 0) return;
    const names = keyless.map(tableLabel);
    throw rebaseConflict(
      rec.name,
      names.map((t) => ({
        kind: 'no_key',
        table: t,
        key: null,
        statement: '',
        current: null,
        message: `${t} has no primary key or replica identity index: add one (or REPLICA IDENTITY USING INDEX) and rebase again`,
        seq: 0,
      })),
      `rebase of ${rec.name} refused: tables without a key cannot be replayed: ${names.join(', ')}`,
    );
  }

  /** The parent's current state in `.next-<name>`, started with TCP closed, the branch's credentials, its log replayed. */
  private async buildBeside(rec: BranchRecord, tmp: BranchRecord, parent: BranchRecord, capture: RebaseCapture): Promise<void> {
    const { storage, pg, pgUser, locks, provisioner } = this.parts;
    const staging = tmp.name;
    await storage.destroy(staging);
    await locks.run(`snap:${parent.name}`, () => snapshotBranch({ storage, pg, pgUser }, parent, staging));
    await this.step('rebase-snapshotted', rec.name);
    const dir = storage.volumePath(staging);
    await pg.clearRuntimeFiles(dir);
    await pg.writeHba(dir, { superuser: rec.superuser, open: false });
    await provisioner.startOnFreePort(tmp, dir, noPersist);
    await this.step('rebase-started', rec.name);
    // The owner role with the branch's own password, let in over TCP (the replay logs in as it) and
    // allowed session_replication_role for the replay only.
    await rotateCredentials(pg, adminTarget(tmp), rec, async () => {}, { takeOwnership: parent.standby === true });
    const grant = (verb: 'GRANT' | 'REVOKE') =>
      pg.withClient(adminTarget(tmp), (c) =>
        c.query(`${verb} SET ON PARAMETER session_replication_role ${verb === 'GRANT' ? 'TO' : 'FROM'} ${c.escapeIdentifier(rec.user)}`),
      );
    await grant('GRANT');
    await this.swap.setTcp(tmp, true);
    const afterTransaction = (seq: number) => this.step(`rebase-replayed-tx-${seq}`, rec.name);
    const log = capture.reader.transactions(rec.name);
    const done = await asOwner(tmp, provisioner.settings(tmp).listen, (c) => replay(c, log, { afterTransaction }));
    await grant('REVOKE');
    this.parts.log('info', `rebase of ${rec.name}: replayed ${done.transactions} transactions (${done.changes} changes)`, {
      branch: rec.name,
    });
    await this.step('rebase-replayed', rec.name);
    await pg.stop(dir, 'fast');
  }

  /** The new volume gone, the branch open to clients again, the intent cleared: exactly as before. */
  private async undo(rec: BranchRecord): Promise<void> {
    const { storage, pg, registry, log } = this.parts;
    const staging = nextName(rec.name);
    await pg.stop(storage.volumePath(staging), 'immediate').catch(() => {});
    await storage
      .destroy(staging)
      .catch((e) => log('error', `rebase of ${rec.name}: could not remove ${staging}: ${(e as Error).message}`));
    await this.swap.setTcp(rec, true).catch((e) => log('error', `rebase of ${rec.name}: could not reopen it: ${(e as Error).message}`));
    delete rec.rebasing;
    rec.state = 'ready';
    await registry.put(rec);
  }

  private async step(step: string, name: string): Promise<void> {
    if (this.parts.onStep) await this.parts.onStep(step, name);
  }
}

/** A session logged in as the branch's owner role over TCP (the replay's: no superuser rights to reach). */
async function asOwner<T>(rec: BranchRecord, listen: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: probeHost(listen),
    port: rec.port,
    user: rec.user,
    password: rec.password,
    database: rec.database,
    application_name: 'vela-agent',
  });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

function rebaseConflict(name: string, conflicts: RebaseConflict[], message?: string): VelaError {
  const first = conflicts[0];
  const text =
    message ??
    `rebase of ${name} stopped at change log transaction ${first.seq}: ${first.kind}${first.table ? ` on ${first.table}` : ''}: ${first.message}; the branch is unchanged`;
  return new VelaError('rebase_conflict', 409, text, { conflicts });
}
