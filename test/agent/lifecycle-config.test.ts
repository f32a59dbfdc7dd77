import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/agent/config.ts';
import { branchMemoryEstimate, runningLimit } from '../../src/agent/lifecycle/policy.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vela-lifecycle-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let seq = 0;
async function load(yaml: string) {
  const file = join(dir, `c${seq++}.yml`);
  await writeFile(file, yaml);
  return loadConfig({ file, env: {}, flags: {} });
}

async function problems(yaml: string): Promise<string[]> {
  const err = await load(yaml).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

describe('idle and capacity config', () => {
  it('defaults: suspend after 15 minutes, no running limit, no memory budget', () => {
    const cfg = loadConfig({ env: {}, flags: {} });
    expect(cfg.idle).toEqual({ suspendAfter: 15 * 60_000 });
    expect(cfg.capacity).toEqual({ maxRunning: null, memoryBudget: null });
  });

  it('reads durations, 0 to disable, and memory sizes', async () => {
    expect((await load('idle: { suspendAfter: 2s }')).idle.suspendAfter).toBe(2000);
    expect((await load('idle: { suspendAfter: 0 }')).idle.suspendAfter).toBeNull();
    expect((await load('idle: { suspendAfter: "0" }')).idle.suspendAfter).toBeNull();
    const cfg = await load('capacity: { maxRunning: 5, memoryBudget: 8GiB }');
    expect(cfg.capacity).toEqual({ maxRunning: 5, memoryBudget: 8 * 1024 ** 3 });
    expect((await load('capacity: { memoryBudget: 512M }')).capacity.memoryBudget).toBe(512 * 1024 ** 2);
  });

  it('names the key and the rule for bad values', async () => {
    expect(await problems('idle: { suspendAfter: soon }')).toEqual([expect.stringMatching(/idle\.suspendAfter: .*30m.*or 0/)]);
    expect(await problems('idle: { suspendAfter: -5m }')).toEqual([expect.stringMatching(/idle\.suspendAfter/)]);
    expect(await problems('capacity: { maxRunning: 0 }')).toEqual([expect.stringMatching(/capacity\.maxRunning: expected at least 1/)]);
    expect(await problems('capacity: { maxRunning: 2.5 }')).toEqual([expect.stringMatching(/capacity\.maxRunning/)]);
    expect(await problems('capacity: { memoryBudget: 8 bananas }')).toEqual([
      expect.stringMatching(/capacity\.memoryBudget: expected a memory size such as 8GiB/),
    ]);
    // A bare small number is a typo for GiB, not a budget of 8 bytes.
    expect(await problems('capacity: { memoryBudget: 8 }')).toEqual([expect.stringMatching(/capacity\.memoryBudget/)]);
    expect(await problems('capacity: { maxRunnning: 5 }')).toEqual([expect.stringMatching(/capacity\.maxRunnning: unknown key/)]);
    expect(await problems('proxy: { loginFailures: { max: 0 } }')).toEqual([
      expect.stringMatching(/proxy\.loginFailures\.max: expected at least 1/),
    ]);
  });

  it('proxy login failures: 10 per address in 5 minutes unless set', async () => {
    expect(loadConfig({ env: {}, flags: {} }).proxy.loginFailures).toEqual({ max: 10, windowSeconds: 300 });
    expect((await load('proxy: { loginFailures: { max: 3, windowSeconds: 60 } }')).proxy.loginFailures).toEqual({
      max: 3,
      windowSeconds: 60,
    });
  });

  it('the memory budget becomes a running limit at shared_buffers plus process overhead per branch', () => {
    const per = branchMemoryEstimate('16MB');
    expect(per).toBe(40 * 1024 ** 2);
    expect(runningLimit({ suspendAfterMs: null, maxRunning: null, memoryBudgetBytes: 400 * 1024 ** 2, branchBytes: per })).toBe(10);
    expect(runningLimit({ suspendAfterMs: null, maxRunning: 4, memoryBudgetBytes: 400 * 1024 ** 2, branchBytes: per })).toBe(4);
    expect(runningLimit({ suspendAfterMs: null, maxRunning: null, memoryBudgetBytes: null, branchBytes: per })).toBeNull();
  });
});
