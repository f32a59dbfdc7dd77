import { z } from 'zod';
import { branchName, duration, flag, labels } from './fields.ts';

/**
 * Request shapes of the agent API: params, queries and bodies. Unknown fields are rejected (400).
 * No ids: each is used by one route, so /openapi.json shows it inline.
 */

export const branchParams = z.object({ name: branchName }).strict();

export const createBranchBody = z
  .object({
    name: branchName,
    parent: branchName.optional().meta({ description: 'the branch to copy; default main' }),
    ttl: duration.optional(),
    labels: labels.optional(),
    ifExists: z
      .enum(['return', 'fail'])
      .optional()
      .meta({ description: 'an existing branch: return it (200, created=false) or fail (409, the default)' }),
  })
  .strict();
export type CreateBranchBody = z.infer<typeof createBranchBody>;

export const patchBranchBody = z
  .object({
    ttl: z.union([duration, z.null()]).optional().meta({ description: 'new TTL from now; null = never expires' }),
    labels: labels.optional(),
    protected: z.boolean().optional().meta({ description: 'admin only' }),
  })
  .strict();
export type PatchBranchBody = z.infer<typeof patchBranchBody>;

/** Bodies of action routes (reset, stop, start, refresh): nothing, or an empty object. */
export const emptyBody = z.object({}).strict();

export const deleteQuery = z
  .object({
    cascade: flag.optional().meta({ description: 'also delete its descendants' }),
    force: flag.optional().meta({ description: 'delete a protected branch (admin only)' }),
  })
  .strict();
export const resetQuery = z.object({ force: flag.optional().meta({ description: 'reset a protected branch (admin only)' }) }).strict();

export const auditQuery = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'limit is a whole number from 1 to 1000')
      .transform(Number)
      .pipe(z.number().min(1, 'limit is at least 1').max(1000, 'limit is at most 1000'))
      .optional()
      .meta({ description: 'how many records, newest first (1-1000, default 100)' }),
    branch: branchName.optional().meta({ description: 'only records about this branch' }),
  })
  .strict();

export const diffQuery = z
  .object({
    rows: z
      .string()
      .regex(/^\d{1,4}$/, 'rows is a whole number from 0 to 100')
      .transform(Number)
      .pipe(z.number().max(100, 'rows is at most 100'))
      .optional()
      .meta({ description: 'a sample of up to this many changed keys per table (0-100, default 0)' }),
  })
  .strict();

const seed = z.object({ name: z.string().min(1).max(200), sql: z.string().max(60_000) }).strict();
const sourceUrl = (mode: string) =>
  z
    .string({ error: `mode ${mode} needs sourceUrl (postgresql://user:password@host:port/database)` })
    .max(2000)
    .regex(/^postgres(ql)?:\/\//, 'expected postgresql://user:password@host:port/database');

/** POST /v1/init: how to build main. The same shape is stored to repeat the build on refresh. */
export const initBody = z.discriminatedUnion('mode', [
  z
    .object({ mode: z.literal('empty'), seeds: z.array(seed).max(20).optional().meta({ description: 'SQL run in order in the new main' }) })
    .strict()
    .meta({ title: 'empty', description: 'an empty main (initdb), then the seed SQL' }),
  z
    .object({
      mode: z.literal('logical'),
      sourceUrl: sourceUrl('logical'),
      jobs: z.number().int().min(1).max(16).optional().meta({ description: 'parallel dump/restore jobs (default 2)' }),
    })
    .strict()
    .meta({ title: 'logical', description: 'pg_dump | pg_restore of the source database' }),
  z
    .object({ mode: z.literal('physical'), sourceUrl: sourceUrl('physical') })
    .strict()
    .meta({ title: 'physical', description: 'pg_basebackup and a streaming hot standby of the source' }),
]);
export type InitBody = z.infer<typeof initBody>;
