import { describe, expect, it } from 'vitest';
import { retryDelayMs, withRetry } from '../../src/action/github/retry.ts';

const httpError = (status: number, headers: Record<string, string> = {}, message = 'x') =>
  Object.assign(new Error(message), { status, response: { headers } });

describe('retryDelayMs', () => {
  it('honours retry-after on 403 and 429', () => {
    expect(retryDelayMs(httpError(429, { 'retry-after': '7' }), 1, 0)).toBe(7_000);
    expect(retryDelayMs(httpError(403, { 'retry-after': '2' }), 1, 0)).toBe(2_000);
  });
  it('waits until x-ratelimit-reset when the primary limit is used up', () => {
    expect(retryDelayMs(httpError(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1010' }), 1, 1_000_000)).toBe(11_000);
  });
  it('backs off at least a minute on a secondary limit without headers', () => {
    expect(retryDelayMs(httpError(403, {}, 'You have exceeded a secondary rate limit'), 2, 0)).toBe(120_000);
  });
  it('does not retry a plain permission error or a 404', () => {
    expect(retryDelayMs(httpError(403, {}, 'Resource not accessible by integration'), 1, 0)).toBeNull();
    expect(retryDelayMs(httpError(404), 1, 0)).toBeNull();
  });
});

describe('withRetry', () => {
  it('retries until success and sleeps as asked', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw httpError(429, { 'retry-after': String(calls) });
        return 'ok';
      },
      { maxRetries: 3, maxWaitMs: 60_000, sleep: async (ms) => void slept.push(ms), now: () => 0 },
    );
    expect(result).toBe('ok');
    expect(slept).toEqual([1_000, 2_000]);
  });
  it('gives up after maxRetries and when the wait is too long', async () => {
    const policy = { maxRetries: 1, maxWaitMs: 5_000, sleep: async () => {}, now: () => 0 };
    await expect(withRetry(async () => Promise.reject(httpError(502)), policy)).rejects.toMatchObject({ status: 502 });
    await expect(withRetry(async () => Promise.reject(httpError(429, { 'retry-after': '3600' })), policy)).rejects.toMatchObject({
      status: 429,
    });
  });
});
