import { OWNER_ROLE } from '../postgres/roles.ts';
import { generatePassword } from '../postgres/scram.ts';
import { ROOT_BRANCH } from '../../core/names.ts';
import type { BranchRecord } from './registry.ts';

/** The first record of a branch of `parent`, in state `creating`, with a fresh password. */
export function childRecord(p: {
  name: string;
  parent: BranchRecord;
  port: number;
  ttlMs: number | null;
  labels?: Record<string, string>;
  driver: string;
  now: Date;
}): BranchRecord {
  const { parent, now } = p;
  return {
    name: p.name,
    parent: parent.name,
    state: 'creating',
    port: p.port,
    database: parent.database,
    // Every branch hands out its owner role, never a superuser or a source's own login.
    user: OWNER_ROLE,
    superuser: parent.superuser,
    password: generatePassword(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    expiresAt: p.ttlMs ? new Date(now.getTime() + p.ttlMs).toISOString() : null,
    protected: false,
    labels: p.labels ?? {},
    storage: { driver: p.driver, exclusiveBytes: null },
    timings: { createMs: null },
  };
}

/** The record of the empty `main` of a first start: protected, handing out the owner role. */
export function emptyRootRecord(p: { port: number; driver: string; now: Date }): BranchRecord {
  const now = p.now.toISOString();
  return {
    name: ROOT_BRANCH,
    parent: null,
    state: 'creating',
    port: p.port,
    database: 'postgres',
    user: OWNER_ROLE,
    password: generatePassword(),
    createdAt: now,
    updatedAt: now,
    expiresAt: null,
    protected: true,
    labels: {},
    storage: { driver: p.driver, exclusiveBytes: null },
    timings: { createMs: null },
  };
}
