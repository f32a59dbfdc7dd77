import { isIPv4, isIPv6 } from 'node:net';
import { RefusalLimiter } from '../rate-limit.ts';

/**
 * Failed logins through the proxy, per client address. A connection wakes its branch before the
 * branch can check the password, so without a limit anyone who can reach the port could start every
 * branch by name (and, under `capacity.maxRunning`, push other branches out) or keep them from idle
 * suspend. Over `max` failures in the window the proxy refuses that address before waking or
 * touching anything. IPv6 clients count per /64, the block one host usually holds.
 */
export class LoginGuard {
  private readonly limiter: RefusalLimiter;

  constructor(opts: { max: number; windowMs: number; now?: () => number }) {
    this.limiter = new RefusalLimiter(opts);
  }

  /** Seconds until the address may try again, or null when it may now. */
  retryAfter(address: string | undefined): number | null {
    return this.limiter.retryAfter(addressKey(address));
  }

  /** One failed login (bad password, unknown role or branch) from the address. */
  failed(address: string | undefined): void {
    this.limiter.refused(addressKey(address));
  }
}

/** The address a failure counts against: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, `::` expanded (a zone index dropped). */
function expandIPv6(address: string): string[] {
  const plain = address.split('%')[0].toLowerCase();
  const [head, tail] = plain.includes('::') ? plain.split('::') : [plain, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === null ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => (g.includes('.') ? g : g.replace(/^0+(?=.)/, '')));
}
