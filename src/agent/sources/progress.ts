/** What a long root build is doing, for GET /v1/init/progress and the CLI's progress line. */
export interface BuildProgress {
  running: boolean;
  mode: 'empty' | 'logical' | 'physical' | null;
  phase: string;
  tablesDone: number;
  tablesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

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
