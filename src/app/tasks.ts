/**
 * Background work started by webhook handlers. Handlers return at once so GitHub gets a fast answer;
 * the work goes on here, and tests (or a graceful shutdown) wait for it with `idle()`.
 */
export class TaskTracker {
  private readonly pending = new Set<Promise<unknown>>();
  private readonly onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = () => {}) {
    this.onError = onError;
  }

  /** Runs `work` in the background; a failure is reported to onError, never left unhandled. */
  track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      (err: unknown) => this.onError(err),
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves once nothing is running, including work started by work that was running. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
