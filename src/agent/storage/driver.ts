import type { StorageKind } from '../../core/api/index.ts';

export interface PoolUsage {
  usedBytes: number;
  freeBytes: number;
}

/** A pool's transaction commits since mount (btrfs `commit_stats`): what snapshots and stops wait on. */
export interface CommitStats {
  commits: number;
  lastMs: number;
  maxMs: number;
  totalMs: number;
}

export interface VolumeOwner {
  uid: number;
  gid: number;
}

/**
 * One small interface over btrfs, ZFS, reflink and plain copy. A volume is one branch's
 * data directory; the branch manager decides what goes into it.
 */
export interface StorageDriver {
  readonly kind: StorageKind;
  /**
   * True when snapshot() is atomic over the whole volume (btrfs, ZFS), so a running parent
   * may be snapshotted. False for per-file copies: the manager wraps them in pg_backup_start/stop.
   */
  readonly atomic: boolean;
  /** Checks tools and pool, creates what is missing; throws one clear error naming the cause. */
  init(): Promise<void>;
  describe(): string;
  volumePath(name: string): string;
  exists(name: string): Promise<boolean>;
  createVolume(name: string, owner: VolumeOwner | null): Promise<string>;
  /** Tunes a new volume once PostgreSQL's files are in it (initdb or a base backup). */
  prepareData?(dataDir: string): Promise<void>;
  /** Child volume from parent. `skip` names top-level entries left out (non-atomic drivers only). */
  snapshot(parent: string, child: string, opts?: { skip?: string[] }): Promise<string>;
  /** Copies one top-level entry of parent into child (the WAL after pg_backup_stop). */
  copyEntry?(parent: string, child: string, entry: string): Promise<void>;
  destroy(name: string): Promise<void>;
  /** Branch volumes (staging volumes such as `.next-main` are listed by listStaging). */
  list(): Promise<string[]>;
  listStaging(): Promise<string[]>;
  /** Renames a volume (the swap at the end of a root refresh); the target must not exist. */
  rename(from: string, to: string): Promise<void>;
  /** Bytes that belong to this volume alone (not shared with its parent); null when unknown. */
  exclusiveBytes(name: string): Promise<number | null>;
  usage(): Promise<PoolUsage>;
  /** Waits until freed space is really free (btrfs cleans deleted subvolumes in the background). */
  settle?(): Promise<void>;
  /**
   * Commits what the pool holds in memory now, so the next snapshot's own commit finds little to do
   * (btrfs: a snapshot waits for the whole transaction; after 30 branches stopped, seconds).
   */
  commit?(): Promise<void>;
  /** The pool's transaction commits so far (btrfs): /metrics shows what snapshots and stops wait on. */
  commitStats?(): Promise<CommitStats | null>;
  /** Deleted volumes not freed yet (btrfs frees them while no snapshot waits). */
  trashed?(): Promise<string[]>;
  /** Stops background work (btrfs: freeing deleted volumes); what is left is picked up by the next init. */
  close?(): Promise<void>;
}

export const FS_MAGIC = {
  btrfs: 0x9123683e,
  xfs: 0x58465342,
  zfs: 0x2fc12fc1,
  ext4: 0xef53,
  tmpfs: 0x01021994,
  overlay: 0x794c7630,
} as const;

export function fsName(type: number): string {
  for (const [name, magic] of Object.entries(FS_MAGIC)) if (magic === type) return name;
  return `0x${type.toString(16)}`;
}
