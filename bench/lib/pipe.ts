import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface PipeResult {
  bytes: number;
}

/**
 * `producer | consumer` without a shell: both as argv arrays, the producer's stdout streamed
 * into the consumer's stdin. Rejects with the failing side's stderr when either exits non-zero.
 */
export function runPipe(producer: readonly string[], consumer: readonly string[], env: NodeJS.ProcessEnv): Promise<PipeResult> {
  return new Promise((resolve, reject) => {
    const left = spawn(producer[0], producer.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const right = spawn(consumer[0], consumer.slice(1), { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let bytes = 0;
    left.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    left.stdout.pipe(right.stdin);
    right.stdin.on('error', () => {}); // EPIPE when the consumer dies first: its exit code tells why
    const exits = [watch(left, producer[0]), watch(right, consumer[0])];
    Promise.all(exits).then(
      () => resolve({ bytes }),
      (err: Error) => {
        left.kill('SIGKILL');
        right.kill('SIGKILL');
        reject(err);
      },
    );
  });
}

function watch(child: ChildProcess, name: string): Promise<void> {
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${name} exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
