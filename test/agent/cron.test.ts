import { describe, expect, it } from 'vitest';
import { cronMatches, cronProblem } from '../../src/agent/cron.ts';

describe('refresh schedule (5-field cron, UTC)', () => {
  it('matches minutes, hours, lists, ranges and steps', () => {
    const at = (iso: string) => new Date(iso);
    expect(cronMatches('0 3 * * *', at('2026-11-25T03:00:00Z'))).toBe(true);
    expect(cronMatches('0 3 * * *', at('2026-11-25T03:01:00Z'))).toBe(false);
    expect(cronMatches('*/15 * * * *', at('2026-11-25T10:45:00Z'))).toBe(true);
    expect(cronMatches('*/15 * * * *', at('2026-11-25T10:46:00Z'))).toBe(false);
    expect(cronMatches('30 1 * * 1-5', at('2026-11-28T01:30:00Z'))).toBe(false); // a Saturday
    expect(cronMatches('30 1 * * 1-5', at('2026-11-27T01:30:00Z'))).toBe(true); // a Friday
    expect(cronMatches('0 0 1,15 * *', at('2026-12-15T00:00:00Z'))).toBe(true);
    expect(cronMatches('0 0 * * 7', at('2026-11-29T00:00:00Z'))).toBe(true); // Sunday as 7
  });

  it('names malformed expressions', () => {
    expect(cronProblem('0 3 * *')).toMatch(/invalid cron expression/);
    expect(cronProblem('61 * * * *')).toMatch(/invalid/);
    expect(cronProblem('a b c d e')).toMatch(/invalid/);
    expect(cronProblem('0 3 * * *')).toBeNull();
  });
});
