/**
 * Refused requests (401, 403) per client address in a fixed window. A client over the limit gets
 * 429 for everything until its window ends: guessing tokens or names costs it time, and the audit
 * trail and the OIDC key fetch are not at its mercy.
 */
export interface RateLimitOptions {
  /** Refusals allowed per window and client. */
  max: number;
  windowMs: number;
  now?: () => number;
}

interface Window {
  start: number;
  count: number;
}

/** Clients tracked at once; beyond it the oldest windows are dropped (memory stays bounded). */
const MAX_CLIENTS = 10_000;

export class RefusalLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(opts: RateLimitOptions) {
    this.max = opts.max;
    this.windowMs = opts.windowMs;
    this.now = opts.now ?? Date.now;
  }

  /** Seconds until the client may try again, or null when it may now. */
  retryAfter(client: string): number | null {
    const w = this.current(client);
    if (!w || w.count < this.max) return null;
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.now()) / 1000));
  }

  /** Counts one refused request of the client. */
  refused(client: string): void {
    const w = this.current(client);
    if (w) {
      w.count++;
      return;
    }
    if (this.windows.size >= MAX_CLIENTS) this.windows.delete(this.windows.keys().next().value!);
    this.windows.set(client, { start: this.now(), count: 1 });
  }

  private current(client: string): Window | null {
    const w = this.windows.get(client);
    if (!w) return null;
    if (this.now() - w.start >= this.windowMs) {
      this.windows.delete(client);
      return null;
    }
    return w;
  }
}
