import { z } from 'zod';
import { BRANCH_NAME_RE, BRANCH_NAME_RULE } from '../names.ts';
import { parseDuration, DURATION_RULE } from '../durations.ts';

/** Field types shared by requests and responses. */
export const branchName = z.string().regex(BRANCH_NAME_RE, BRANCH_NAME_RULE).meta({ description: BRANCH_NAME_RULE, example: 'pr-123' });

export const duration = z
  .string()
  .refine((s) => parseDuration(s) !== null, DURATION_RULE)
  .meta({ description: DURATION_RULE, example: '2h' });

const labelKey = z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,62}$/, 'label keys are lowercase [a-z0-9._/-], at most 63 characters');
export const labels = z
  .record(labelKey, z.string().max(256))
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels')
  .meta({ description: 'free-form labels (repo, pr, sha, actor, …); at most 32', example: { repo: 'octo/shop', pr: '123' } });

/** A query flag: 1/true or 0/false. */
export const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');

export const timestamp = z.iso.datetime().meta({ description: 'ISO 8601 UTC time' });

export const storageKind = z.enum(['btrfs', 'zfs', 'reflink', 'copy']);
export type StorageKind = z.infer<typeof storageKind>;

export const branchState = z.enum(['creating', 'ready', 'stopped', 'deleting', 'failed']);
export type BranchState = z.infer<typeof branchState>;

export const port = z.number().int().min(1).max(65535);
export const count = z.number().int().min(0);
