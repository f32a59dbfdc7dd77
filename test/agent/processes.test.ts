import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { alive, kill } from '../../src/agent/postgres/processes.ts';

describe('process liveness', () => {
  it('a zombie (exited, not reaped by its parent) is not alive, though kill(0) still answers', async () => {
    // `sleep 0` exits at once; its parent execs into `sleep 3`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const zombie = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    await new Promise((r) => setTimeout(r, 200));
    try {
      expect(kill(zombie, 0)).toBe(true);
      expect(alive(zombie)).toBe(false);
      expect(alive(parent.pid!)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
