import type { z } from 'zod';
import { badRequest } from '../../core/errors.ts';

/** Parses with a zod schema; a failure is a 400 whose message names each bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => {
    const path = i.path.length ? i.path.join('.') : what;
    if (i.code === 'unrecognized_keys') return `${path}: unknown field(s) ${i.keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`;
    return `${path}: ${i.message}`;
  });
  throw badRequest(`invalid ${what}: ${problems.join('; ')}`);
}
