import type { FastifyRequest } from 'fastify';
import { VelaError } from '../../core/errors.ts';

export const BODY_LIMIT = 64 * 1024;

/** 5xx codes whose message is meant for the caller (what to do about it), not internals. */
const SAFE_5XX = new Set(['postgres_start_failed', 'insufficient_storage', 'unavailable', 'capacity']);

/** Maps any error to a status and a message safe to show: 5xx never carry internals. */
export function toHttpError(err: unknown, req: FastifyRequest): { status: number; code: string; message: string } {
  if (err instanceof VelaError) {
    if (err.status < 500 || SAFE_5XX.has(err.code)) {
      return { status: err.status, code: err.code, message: err.message };
    }
    return { status: err.status, code: err.code, message: `internal error (request id ${req.id}); the agent log has the details` };
  }
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 400, code: 'body_too_large', message: `the body is larger than ${BODY_LIMIT / 1024} KiB` };
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 400, code: 'unsupported_media_type', message: 'send the body as application/json' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: 400, code: 'bad_request', message: (e.message ?? 'bad request').slice(0, 300) };
  }
  return { status: 500, code: 'internal', message: `internal error (request id ${req.id}); the agent log has the details` };
}
