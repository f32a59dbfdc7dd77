/**
 * CancelRequests arrive on a new connection carrying only the backend's process id and secret key,
 * so the proxy remembers which branch each proxied session's BackendKeyData came from. Entries live
 * as long as the session; a key the map does not know is dropped, as postgres drops a wrong one.
 */
export class CancelKeys {
  private readonly byKey = new Map<string, { branch: string; port: number }>();

  add(key: Buffer, target: { branch: string; port: number }): string {
    const k = key.toString('hex');
    this.byKey.set(k, target);
    return k;
  }

  remove(handle: string): void {
    this.byKey.delete(handle);
  }

  lookup(key: Buffer): { branch: string; port: number } | undefined {
    return this.byKey.get(key.toString('hex'));
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * Watches what a branch sends until the first ReadyForQuery (or error) and reports the
 * BackendKeyData payload it saw. It only reads message boundaries; the bytes are forwarded as they are.
 */
export class KeyDataWatcher {
  private buf: Buffer = Buffer.alloc(0);
  private finished = false;
  private seen = 0;
  private readonly onKey: (key: Buffer) => void;

  constructor(onKey: (key: Buffer) => void) {
    this.onKey = onKey;
  }

  get done(): boolean {
    return this.finished;
  }

  feed(chunk: Buffer): void {
    if (this.finished) return;
    this.seen += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const type = String.fromCharCode(this.buf[0]);
      const len = this.buf.readInt32BE(1);
      // The authentication phase is a few small messages; anything odd ends the watch.
      if (len < 4 || len > 64 * 1024) return this.finish();
      if (this.buf.length < 1 + len) break;
      if (type === 'K') this.onKey(Buffer.from(this.buf.subarray(5, 1 + len)));
      this.buf = this.buf.subarray(1 + len);
      if (type === 'Z' || type === 'E') return this.finish();
    }
    if (this.seen > 256 * 1024) this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.buf = Buffer.alloc(0);
  }
}
