import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/app/keyed-lock.ts';
import { TaskTracker } from '../../src/app/tasks.ts';
import { DeliveryLog } from '../../src/app/deliveries.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedLock', () => {
  it('runs work for one key one at a time, in arrival order, and other keys in parallel', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (key: string, id: string) =>
      lock.run(key, async () => {
        log.push(`start ${id}`);
        await tick();
        log.push(`end ${id}`);
      });
    await Promise.all([job('pr-1', 'a'), job('pr-1', 'b'), job('pr-2', 'c')]);
    expect(log.indexOf('end a')).toBeLessThan(log.indexOf('start b'));
    expect(log.indexOf('start c')).toBeLessThan(log.indexOf('end a'));
    expect(lock.activeKeys).toBe(0);
  });

  it('a failure does not block the next in line, and reaches its own caller', async () => {
    const lock = new KeyedLock();
    const failing = lock.run('k', async () => {
      throw new Error('boom');
    });
    const next = lock.run('k', async () => 'ran');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });
});

describe('TaskTracker', () => {
  it('idle() waits for tracked work, including work started by tracked work; failures go to onError', async () => {
    const errors: unknown[] = [];
    const tasks = new TaskTracker((e) => errors.push(e));
    let done = false;
    tasks.track(
      (async () => {
        await tick();
        tasks.track(
          (async () => {
            await tick();
            done = true;
          })(),
        );
        throw new Error('first failed');
      })(),
    );
    await tasks.idle();
    expect(done).toBe(true);
    expect(errors.map((e) => (e as Error).message)).toEqual(['first failed']);
    expect(tasks.size).toBe(0);
  });
});

describe('DeliveryLog', () => {
  it('claims an id once, again after forget, and evicts the oldest beyond capacity', () => {
    const log = new DeliveryLog(2);
    expect(log.claim('a')).toBe(true);
    expect(log.claim('a')).toBe(false);
    log.forget('a');
    expect(log.claim('a')).toBe(true);
    log.claim('b');
    log.claim('c');
    expect(log.claim('a')).toBe(true); // evicted
    expect(log.claim('c')).toBe(false);
  });
});
