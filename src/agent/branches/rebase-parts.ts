import type { StorageDriver } from '../storage/driver.ts';
import type { PostgresControl } from '../postgres/instance.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { Provisioner, StepHook } from '../provisioner/provisioner.ts';
import type { ChangeLogReader } from '../capture/change-log-types.ts';
import type { LogFn } from '../logger.ts';
import type { BranchRecord, Registry } from './registry.ts';
import type { KeyedLock } from './locks.ts';

/** What rebase needs of change capture (src/agent/capture/). */
export interface RebaseCapture {
  reader: ChangeLogReader;
  /**
   * Sets capture up on a branch's swapped-in volume: started, TCP still closed, the replayed
   * changes already in. Must be idempotent (recovery may run it again after a crash).
   */
  install(rec: BranchRecord): Promise<void>;
}

export interface RebaseParts {
  registry: Registry;
  locks: KeyedLock;
  provisioner: Provisioner;
  storage: StorageDriver;
  pg: PostgresControl;
  pgUser: OsUser | null;
  /** Null: the agent captures no changes, so there is nothing to replay (503). */
  capture: RebaseCapture | null;
  log: LogFn;
  onStep?: StepHook;
}
