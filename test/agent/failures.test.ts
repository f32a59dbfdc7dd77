import { afterAll, beforeAll, expect, it } from 'vitest';
import { access, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, makeDataDir, destroyDataDir, testPortRange } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { openEngine, defaultEngineOptions } from '../../src/agent/engine.ts';
import { processRunner } from '../../src/agent/runner.ts';
import type { Runner } from '../../src/agent/runner.ts';
import { BtrfsDriver } from '../../src/agent/storage/btrfs.ts';
import { processesUnder } from '../../src/agent/postgres/processes.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';

/** The real runner with a PATH that has no btrfs-progs: what a host without the package sees. */
const runnerWithoutBtrfs: Runner = (argv, opts = {}) =>
  /btrfs/.test(argv[0] ?? '')
    ? processRunner(argv, { ...opts, env: { ...(opts.env ?? process.env), PATH: '/nonexistent' } })
    : processRunner(argv, opts);

async function expectNothingLeft(e: TestEngine, name: string, port?: number) {
  expect(e.manager.find(name)).toBeUndefined();
  expect(await e.manager.storage.list()).toEqual(['main']);
  const procs = await processesUnder(join(e.dataDir, 'pool', 'vols'));
  expect(procs.filter((p) => p.argv.some((a) => a.includes(`/vols/${name}`)))).toEqual([]);
  if (port) expect(await portIsFree(port)).toBe(true);
  expect((await readdir(join(e.dataDir, 'run'))).filter((d) => d !== String(e.manager.get('main').port))).toEqual([]);
}

describeWithPool('clear errors, nothing half-made', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await destroyDataDir(d);
  });

  it('missing btrfs-progs: one error naming the package, no pool image made', async () => {
    const dataDir = await makeDataDir('nobtrfs');
    dirs.push(dataDir);
    const err = await openEngine({
      ...defaultEngineOptions(dataDir),
      storage: 'btrfs',
      ports: testPortRange(),
      runner: runnerWithoutBtrfs,
      pgBin: null,
      log: () => {},
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/btrfs command is not installed: install btrfs-progs/);
    await expect(access(join(dataDir, 'pool.img'))).rejects.toThrow();
  });

  it('a pool directory that is not btrfs: one error naming the filesystem', async () => {
    const dir = await makeDataDir('notbtrfs');
    dirs.push(dir);
    await mkdir(join(dir, 'vols'));
    const driver = new BtrfsDriver(join(dir, 'vols'), processRunner);
    await expect(driver.init()).rejects.toThrow(/is on \S+, not btrfs/);
  });

  describe_('a postgres that will not start', () => {
    let e: TestEngine;
    beforeAll(async () => {
      e = await openTestEngine('nostart');
      dirs.push(e.dataDir);
    });
    it('gives one error with postgres own reason and leaves no volume, process, socket or port', async () => {
      // Same pool, but branches now ask for an impossible shared_buffers.
      const broken = await e.reopen({ branch: { ...e.options.branch, sharedBuffers: '64TB' } });
      const err = await broken.manager.create({ name: 'wont-start' }).catch((x) => x);
      expect(err).toMatchObject({ status: 500, code: 'postgres_start_failed' });
      expect(err.message).toMatch(/postgres for branch wont-start failed to start: .*invalid value for parameter "shared_buffers"/);
      await expectNothingLeft(broken, 'wont-start');
      expect(broken.manager.get('main').state).toBe('ready');
    });
  });

  describe_('a port taken between allocation and postgres start', () => {
    let e: TestEngine;
    beforeAll(async () => {
      e = await openTestEngine('porttaken');
      dirs.push(e.dataDir);
    });
    it('moves the branch to the next free port instead of failing', async () => {
      const { createServer } = await import('node:net');
      const squatter = createServer();
      // Grab the port the allocator is about to hand out, right after its free-check.
      const ports = e.ports as unknown as { allocate: (t: number[], h: string) => Promise<number> };
      const original = ports.allocate.bind(e.ports);
      let first = true;
      ports.allocate = async (taken, host) => {
        const p = await original(taken, host);
        if (first) {
          first = false;
          await new Promise<void>((r) => squatter.listen(p, '127.0.0.1', () => r()));
        }
        return p;
      };
      try {
        const { record } = await e.manager.create({ name: 'moved' });
        const squatted = (squatter.address() as { port: number }).port;
        expect(record.state).toBe('ready');
        expect(record.port).not.toBe(squatted);
      } finally {
        ports.allocate = original;
        await new Promise((r) => squatter.close(r));
      }
    });
  });

  describe_('a full pool', () => {
    let e: TestEngine;
    beforeAll(async () => {
      e = await openTestEngine('full', { pool: { image: null, sizeGiB: 0.4 } });
      dirs.push(e.dataDir);
      // Fill the filesystem to the last byte.
      await processRunner(['dd', 'if=/dev/zero', `of=${join(e.dataDir, 'pool', 'filler')}`, 'bs=1M', 'status=none'], {
        allowFailure: true,
      });
      await processRunner(['sync']);
    });
    it('is refused up front with 507 and a message that says so', async () => {
      const err = await e.manager.create({ name: 'no-room' }).catch((x) => x);
      expect(err).toMatchObject({ status: 507, code: 'insufficient_storage' });
      expect(err.message).toMatch(/storage pool is full/);
      await expectNothingLeft(e, 'no-room');
    });
    it('running out of space during the create is one clear 507 too, and nothing stays behind', async () => {
      const noCheck = await e.reopen({ minFreeBytes: 0 });
      const err = await noCheck.manager.create({ name: 'mid-full' }).catch((x) => x);
      expect(err).toMatchObject({ status: 507 });
      expect(err.message).toMatch(/no space left on device/i);
      await expectNothingLeft(noCheck, 'mid-full');
    });
  });
});

// Nested suites inherit the pool requirement from the outer describeWithPool.
import { describe as describe_ } from 'vitest';
