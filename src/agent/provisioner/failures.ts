import { PostgresStartError } from '../postgres/instance.ts';
import { VelaError, insufficientStorage } from '../../core/errors.ts';

/** postgres could not bind its port: someone took it after the allocator checked it was free. */
export class PortTakenError extends Error {
  constructor(start: PostgresStartError) {
    super(start.message, { cause: start });
    this.name = 'PortTakenError';
  }
}

/** The storage pool ran out of space (seen in our error or in postgres' own log). */
export class PoolFullError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'PoolFullError';
  }
}

// postgres reports these only as text in its log or in pg_ctl's output; this module is the one place that reads it.
const PORT_TAKEN = /could not bind|already in use|could not create any TCP\/IP sockets/i;
const NO_SPACE = /No space left|ENOSPC|could not extend file|disk full/i;

/**
 * Names the cause of a low-level failure with a typed error (PoolFullError, PortTakenError) or
 * returns it as it was. `logTail`: postgres' log, where a postgres that hit ENOSPC after it
 * started says so (not in our error).
 */
export function classifyFailure(err: unknown, logTail = ''): Error {
  if (err instanceof VelaError || err instanceof PoolFullError || err instanceof PortTakenError) return err;
  const error = err instanceof Error ? err : new Error(String(err));
  if (NO_SPACE.test(`${error.message}\n${logTail}`)) return new PoolFullError(error.message, error);
  if (error instanceof PostgresStartError && PORT_TAKEN.test(`${error.message}\n${error.logTail}`)) {
    return new PortTakenError(error);
  }
  return error;
}

/** One clear API error for a failed step (`what`, e.g. "create pr-1") that names the cause. */
export function toApiError(err: unknown, what: string, logTail = ''): VelaError {
  const cause = classifyFailure(err, logTail);
  if (cause instanceof VelaError) return cause;
  if (cause instanceof PoolFullError) {
    return insufficientStorage(`${what}: the storage pool is full (no space left on device): delete branches or grow the pool`);
  }
  if (cause instanceof PostgresStartError || cause instanceof PortTakenError) {
    return new VelaError('postgres_start_failed', 500, `${what}: ${cause.message}`);
  }
  return new VelaError('internal', 500, `${what} failed: ${cause.message}`);
}
