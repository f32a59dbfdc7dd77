import { describe, expect, it } from 'vitest';
import { RefusalLimiter } from '../../src/agent/rate-limit.ts';

describe('RefusalLimiter', () => {
  it('lets a client be refused max times per window, then asks it to wait until the window ends', () => {
    let now = 1_000_000;
    const l = new RefusalLimiter({ max: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('10.0.0.1')).toBeNull();
      l.refused('10.0.0.1');
    }
    expect(l.retryAfter('10.0.0.1')).toBe(60);
    expect(l.retryAfter('10.0.0.2')).toBeNull(); // per client address
    now += 45_000;
    expect(l.retryAfter('10.0.0.1')).toBe(15);
    now += 15_000;
    expect(l.retryAfter('10.0.0.1')).toBeNull();
  });
});
