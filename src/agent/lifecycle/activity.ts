/**
 * When each branch last had a client, in memory only: after an agent restart every running branch
 * starts a full idle period again (suspending on a guess after a restart would surprise users).
 */
export class Activity {
  private readonly last = new Map<string, number>();
  /** Branches that had clients at their last check: checked on every sweep until they have none. */
  private readonly busy = new Set<string>();

  touch(name: string, at = Date.now()): void {
    this.last.set(name, at);
  }

  /** The last activity; a branch seen for the first time counts as active now. */
  lastActive(name: string, now = Date.now()): number {
    let t = this.last.get(name);
    if (t === undefined) {
      t = now;
      this.last.set(name, t);
    }
    return t;
  }

  /** Last activity without starting a clock (LRU order; unknown = long ago). */
  peek(name: string): number {
    return this.last.get(name) ?? 0;
  }

  isBusy(name: string): boolean {
    return this.busy.has(name);
  }

  markBusy(name: string, busy: boolean, at = Date.now()): void {
    if (busy) {
      this.busy.add(name);
      this.last.set(name, at);
    } else this.busy.delete(name);
  }

  forget(name: string): void {
    this.last.delete(name);
    this.busy.delete(name);
  }

  /** Drops entries of branches that no longer exist. */
  prune(existing: Set<string>): void {
    for (const name of this.last.keys()) if (!existing.has(name)) this.forget(name);
  }
}
