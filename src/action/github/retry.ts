/** How GitHub asks clients to back off, per its REST docs on primary and secondary rate limits. */
export interface RetryPolicy {
  maxRetries: number;
  /** Longer waits than this fail instead: better a clear error than a job silently parked for an hour. */
  maxWaitMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

interface HttpishError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

const header = (err: HttpishError, name: string): string | undefined => {
  const value = err.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
};

/** Milliseconds to wait before retrying, or null when the error is not one to retry. */
export function retryDelayMs(err: unknown, attempt: number, now: number): number | null {
  const httpErr = err as HttpishError;
  const status = httpErr?.status;
  if (typeof status !== 'number') return null;
  const retryAfter = header(httpErr, 'retry-after');
  if ((status === 403 || status === 429) && retryAfter !== undefined && /^\d+$/.test(retryAfter)) {
    return Number(retryAfter) * 1000;
  }
  const remaining = header(httpErr, 'x-ratelimit-remaining');
  const reset = header(httpErr, 'x-ratelimit-reset');
  if ((status === 403 || status === 429) && remaining === '0' && reset !== undefined && /^\d+$/.test(reset)) {
    return Math.max(0, Number(reset) * 1000 - now) + 1000;
  }
  if ((status === 403 || status === 429) && /secondary rate limit/i.test(httpErr.message ?? '')) {
    // No header to go by: GitHub says wait at least a minute, growing with each try.
    return 60_000 * 2 ** (attempt - 1);
  }
  if (status >= 500 && status !== 501) return 1000 * 2 ** (attempt - 1);
  return null;
}

/** Runs `fn`, retrying rate-limited and transient failures the way GitHub asks. */
export async function withRetry<T>(fn: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = attempt <= policy.maxRetries ? retryDelayMs(err, attempt, policy.now()) : null;
      if (delay === null || delay > policy.maxWaitMs) throw err;
      await policy.sleep(delay);
    }
  }
}
