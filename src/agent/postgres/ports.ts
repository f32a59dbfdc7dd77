import { createServer } from 'node:net';

/** True when nothing listens on host:port (we bind and release it). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Hands out ports from a range. Reservations are held in memory while a create runs;
 * the registry's records are the durable truth and are passed in as `taken`.
 */
export class PortAllocator {
  private readonly from: number;
  private readonly to: number;
  private readonly reserved = new Set<number>();
  private next: number;

  constructor(range: { from: number; to: number }) {
    if (!(range.from > 1024 && range.to >= range.from && range.to < 65536)) {
      throw new Error(`ports: invalid range ${range.from}-${range.to} (need 1025-65535, from <= to)`);
    }
    this.from = range.from;
    this.to = range.to;
    this.next = range.from;
  }

  async allocate(taken: Iterable<number>, host = '127.0.0.1'): Promise<number> {
    const used = new Set(taken);
    const size = this.to - this.from + 1;
    for (let i = 0; i < size; i++) {
      const port = this.from + ((this.next - this.from + i) % size);
      if (used.has(port) || this.reserved.has(port)) continue;
      this.reserved.add(port);
      if (await portIsFree(port, host)) {
        this.next = port + 1 > this.to ? this.from : port + 1;
        return port;
      }
      this.reserved.delete(port);
    }
    throw new Error(`no free port left in ${this.from}-${this.to}: delete branches or widen ports in the config`);
  }

  release(port: number): void {
    this.reserved.delete(port);
  }
}
