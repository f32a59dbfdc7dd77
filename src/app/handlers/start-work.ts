import type { AppDeps } from '../deps.ts';

/** `retry`: the work could not finish (agent down); forget the delivery so a redelivery runs it again. */
export type WorkOutcome = 'done' | 'retry';

interface DeliveryContext {
  id: string;
  log: { debug: (msg: string) => void; error: (obj: object, msg: string) => void };
}

/**
 * Accepts a delivery once and runs its work in the background, one at a time per pull request.
 * The webhook handler returns immediately, so GitHub gets its answer within its 10 s limit.
 */
export function startWork(deps: AppDeps, context: DeliveryContext, key: string, work: () => Promise<WorkOutcome>): void {
  if (!deps.deliveries.claim(context.id)) {
    context.log.debug(`vela: delivery ${context.id} already handled, skipping`);
    return;
  }
  const run = deps.locks.run(key, work).then(
    (outcome) => {
      if (outcome === 'retry') deps.deliveries.forget(context.id);
    },
    (err: unknown) => {
      deps.deliveries.forget(context.id);
      context.log.error({ err }, `vela: handling delivery ${context.id} failed`);
      throw err;
    },
  );
  deps.tasks.track(run);
}
