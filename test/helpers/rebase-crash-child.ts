/**
 * A separate process that opens the engine on a test's data dir and rebases one branch, killing
 * itself with SIGKILL at the named step (a real kill -9 of the process holding the engine).
 *
 *   VELA_CHILD_OPTS=<engine options JSON> [VELA_CHILD_LOG=<change log JSON file>] VELA_CHILD_BRANCH=name VELA_CHILD_CRASH_AT=step node rebase-crash-child.ts
 */
import { readFileSync } from 'node:fs';
import { openEngine } from '../../src/agent/engine.ts';
import type { EngineOptions } from '../../src/agent/engine.ts';
import type { CapturedTransaction } from '../../src/agent/capture/change-log-types.ts';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const options = JSON.parse(env('VELA_CHILD_OPTS')) as EngineOptions;
// With a log file: that hand-written log instead of the engine's own change capture.
const logFile = process.env.VELA_CHILD_LOG;
const log = logFile ? (JSON.parse(readFileSync(logFile, 'utf8')) as CapturedTransaction[]) : null;
const crashAt = env('VELA_CHILD_CRASH_AT');

const engine = await openEngine({
  ...options,
  log: () => {},
  ...(log
    ? {
        capture: {
          reader: {
            async *transactions() {
              for (const tx of log) yield await Promise.resolve(tx);
            },
            counts: () => Promise.resolve([]),
          },
          install: async () => {},
        },
      }
    : {}),
  onStep: (step) => {
    if (step === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
try {
  await engine.rebaser.rebase(env('VELA_CHILD_BRANCH'));
  process.stdout.write('rebased without reaching the step\n');
} catch (err) {
  process.stdout.write(`rebase failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
