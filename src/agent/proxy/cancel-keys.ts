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
