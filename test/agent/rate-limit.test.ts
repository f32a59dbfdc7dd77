import { describe, expect, it } from 'vitest';
import { RefusalLimiter } from '../../src/agent/rate-limit.ts';
import { addressKey, LoginGuard } from '../../src/agent/proxy/login-guard.ts';

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

describe('LoginGuard (the proxy: failed logins per client address)', () => {
  it('counts an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::5')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('refuses an address after max failures in the window; another /64 is not affected', () => {
    let now = 0;
    const g = new LoginGuard({ max: 2, windowMs: 300_000, now: () => now });
    g.failed('2001:db8:1:2::10');
    g.failed('2001:db8:1:2::99'); // same /64
    expect(g.retryAfter('2001:db8:1:2::abcd')).toBe(300);
    expect(g.retryAfter('2001:db8:1:3::10')).toBeNull();
    now += 300_000;
    expect(g.retryAfter('2001:db8:1:2::10')).toBeNull();
  });
});
