import type { Runner } from '../runner.ts';
import { CommandNotFoundError } from '../runner.ts';
import type { StorageDriver, VolumeOwner, PoolUsage } from './driver.ts';
import { branchNameProblem, isStagingName } from '../../core/names.ts';
import { chown, chmod } from 'node:fs/promises';

/**
 * ZFS datasets under one parent dataset: snapshot + clone per branch, atomic like btrfs.
 * Command lines are unit-tested through the runner seam; not yet run against real ZFS.
 */
export class ZfsDriver implements StorageDriver {
  readonly kind = 'zfs' as const;
  readonly atomic = true;
  private readonly dataset: string;
  private readonly run: Runner;
  private readonly mountRoot: string;
  private readonly quotaBytes: number | null;

  constructor(dataset: string, mountRoot: string, runner: Runner, opts: { quotaBytes?: number | null } = {}) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/.test(dataset)) throw new Error(`zfs.dataset "${dataset}" is not a valid dataset name`);
    this.dataset = dataset;
    this.mountRoot = mountRoot;
    this.run = runner;
    this.quotaBytes = opts.quotaBytes ?? null;
  }

  describe(): string {
    return `ZFS clones under ${this.dataset}`;
  }

  private ds(name: string): string {
    return `${this.dataset}/${this.component(name)}`;
  }

  /** ZFS names must start alphanumeric: `.next-main` becomes `vela_next-main` (no branch has a "_"). */
  private component(name: string): string {
    if (isStagingName(name)) return `vela_${name.slice(1)}`;
    const problem = branchNameProblem(name);
    if (problem) throw new Error(problem);
    return name;
  }

  async init(): Promise<void> {
    try {
      await this.run(['zfs', 'version']);
    } catch (err) {
      if (err instanceof CommandNotFoundError)
        throw new Error('storage zfs: the zfs command is not installed (zfsutils-linux)', { cause: err });
      throw err;
    }
    const r = await this.run(['zfs', 'list', '-H', '-o', 'name', this.dataset], { allowFailure: true });
    if (r.code !== 0) {
      await this.run(['zfs', 'create', '-p', '-o', `mountpoint=${this.mountRoot}`, this.dataset]);
    }
  }

  volumePath(name: string): string {
    return `${this.mountRoot}/${this.component(name)}`;
  }

  async exists(name: string): Promise<boolean> {
    const r = await this.run(['zfs', 'list', '-H', '-o', 'name', this.ds(name)], { allowFailure: true });
    return r.code === 0;
  }

  async createVolume(name: string, owner: VolumeOwner | null): Promise<string> {
    await this.run(['zfs', 'create', this.ds(name)]);
    const path = this.volumePath(name);
    if (owner) await chown(path, owner.uid, owner.gid);
    await chmod(path, 0o700);
    return path;
  }

  async snapshot(parent: string, child: string): Promise<string> {
    const snap = `${this.ds(parent)}@vela-${child}-${Date.now()}`;
    await this.run(['zfs', 'snapshot', snap]);
    try {
      await this.run(['zfs', 'clone', ...(await this.quotaOptions(snap, child)), snap, this.ds(child)]);
    } catch (err) {
      await this.run(['zfs', 'destroy', snap], { allowFailure: true });
      throw err;
    }
    return this.volumePath(child);
  }

  /**
   * refquota counts everything the clone references, its parent's data included: the limit is what
   * the snapshot holds plus the quota, so the branch may write `quotaBytes` of its own.
   */
  private async quotaOptions(snap: string, child: string): Promise<string[]> {
    if (!this.quotaBytes || isStagingName(child)) return [];
    const r = await this.run(['zfs', 'get', '-H', '-p', '-o', 'value', 'referenced', snap]);
    const referenced = Number(r.stdout.trim());
    if (!Number.isFinite(referenced)) throw new Error(`zfs get referenced ${snap}: unexpected output "${r.stdout.trim().slice(0, 40)}"`);
    return ['-o', `refquota=${referenced + this.quotaBytes}`];
  }

  async destroy(name: string): Promise<void> {
    if (!(await this.exists(name))) return;
    const origin = (await this.run(['zfs', 'get', '-H', '-o', 'value', 'origin', this.ds(name)])).stdout.trim();
    await this.run(['zfs', 'destroy', '-r', this.ds(name)]);
    // The clone's origin snapshot belongs to this branch alone; drop it so the parent does not keep its blocks.
    if (origin && origin !== '-') await this.run(['zfs', 'destroy', origin], { allowFailure: true });
  }

  async list(): Promise<string[]> {
    const r = await this.run(['zfs', 'list', '-H', '-o', 'name', '-d', '1', '-t', 'filesystem', this.dataset]);
    return r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${this.dataset}/`))
      .map((l) => l.slice(this.dataset.length + 1))
      .filter((n) => branchNameProblem(n) === null)
      .sort();
  }

  async listStaging(): Promise<string[]> {
    const r = await this.run(['zfs', 'list', '-H', '-o', 'name', '-d', '1', '-t', 'filesystem', this.dataset]);
    return r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${this.dataset}/vela_`))
      .map((l) => `.${l.slice(this.dataset.length + 6)}`)
      .filter(isStagingName)
      .sort();
  }

  async rename(from: string, to: string): Promise<void> {
    await this.run(['zfs', 'rename', this.ds(from), this.ds(to)]);
  }

  async exclusiveBytes(name: string): Promise<number | null> {
    const r = await this.run(['zfs', 'get', '-H', '-p', '-o', 'value', 'used', this.ds(name)]);
    const v = Number(r.stdout.trim());
    return Number.isFinite(v) ? v : null;
  }

  async usage(): Promise<PoolUsage> {
    const r = await this.run(['zfs', 'get', '-H', '-p', '-o', 'value', 'used,available', this.dataset]);
    const [used, avail] = r.stdout.trim().split('\n').map(Number);
    return { usedBytes: used ?? 0, freeBytes: avail ?? 0 };
  }
}
