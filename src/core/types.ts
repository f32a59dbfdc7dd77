export type BranchState = 'creating' | 'ready' | 'stopped' | 'deleting' | 'failed';

export interface ConnectionInfo {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  uri: string;
}

/** A branch as the API shows it. `connection` is present only for callers allowed to write the branch. */
export interface Branch {
  name: string;
  parent: string | null;
  state: BranchState;
  error?: string;
  host: string;
  port: number;
  database: string;
  user: string;
  createdAt: string;
  updatedAt: string;
  expiresAt: string | null;
  protected: boolean;
  labels: Record<string, string>;
  storage: { driver: string; exclusiveBytes: number | null };
  timings: { createMs: number | null; resetMs?: number | null };
  replication?: { lagBytes: number | null; lagSeconds: number | null } | null;
  connection?: ConnectionInfo;
}

export interface CreateResult {
  branch: Branch;
  created: boolean;
}

export interface ApiErrorBody {
  error: { code: string; message: string; conflicts?: unknown[] };
}

export type StorageKind = 'btrfs' | 'zfs' | 'reflink' | 'copy';
