/**
 * Remembers recent webhook delivery ids. GitHub may deliver the same event twice (and a redelivery
 * keeps its id); the second copy is dropped. A delivery whose work failed is forgotten so that a
 * manual redelivery retries it.
 */
export class DeliveryLog {
  private readonly seen = new Set<string>();
  private readonly capacity: number;

  constructor(capacity = 5000) {
    this.capacity = capacity;
  }

  /** True the first time an id is offered, false for every repeat. */
  claim(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > this.capacity) {
      // Sets iterate in insertion order: the first entry is the oldest.
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }

  forget(id: string): void {
    this.seen.delete(id);
  }
}
