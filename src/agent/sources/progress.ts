import type { BuildProgress } from '../../core/api/responses.ts';

/** What a long root build is doing (GET /v1/init/progress); the shape is the API's. */
export type { BuildProgress };

export function idleProgress(): BuildProgress {
  return {
    running: false,
    mode: null,
    phase: 'idle',
    tablesDone: 0,
    tablesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
  };
}
