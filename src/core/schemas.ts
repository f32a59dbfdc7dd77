import { z } from 'zod';
import { BRANCH_NAME_RE, BRANCH_NAME_RULE } from './names.ts';
import { parseDuration, DURATION_RULE } from './durations.ts';

export const branchName = z.string().regex(BRANCH_NAME_RE, BRANCH_NAME_RULE);
export const duration = z.string().refine((s) => parseDuration(s) !== null, DURATION_RULE);

const labelKey = z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,62}$/, 'label keys are lowercase [a-z0-9._/-], at most 63 characters');
export const labels = z.record(labelKey, z.string().max(256)).refine((l) => Object.keys(l).length <= 32, 'at most 32 labels');

export const createBranchBody = z
  .object({
    name: branchName,
    parent: branchName.optional(),
    ttl: duration.optional(),
    labels: labels.optional(),
    ifExists: z.enum(['return', 'fail']).optional(),
  })
  .strict();
export type CreateBranchBody = z.infer<typeof createBranchBody>;

export const patchBranchBody = z
  .object({
    ttl: z.union([duration, z.null()]).optional(),
    labels: labels.optional(),
    protected: z.boolean().optional(),
  })
  .strict();
export type PatchBranchBody = z.infer<typeof patchBranchBody>;

export const branchParams = z.object({ name: branchName }).strict();

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');
export const deleteQuery = z.object({ cascade: flag.optional(), force: flag.optional() }).strict();
export const resetQuery = z.object({ force: flag.optional() }).strict();
