/** Milliseconds per named step of one operation, for the log line that says where a create's time went. */
export type Phases = Record<string, number>;

/** Records the time since the previous mark under each name. */
export class PhaseClock {
  readonly phases: Phases = {};
  private last = performance.now();

  mark(name: string): void {
    const now = performance.now();
    this.phases[name] = (this.phases[name] ?? 0) + Math.round(now - this.last);
    this.last = now;
  }
}
