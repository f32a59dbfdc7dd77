import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry, recordProblem } from '../../src/agent/branches/registry.ts';

let state: string;
beforeEach(async () => {
  state = await mkdtemp(join(tmpdir(), 'vela-registry-'));
  await mkdir(join(state, 'branches'));
});
afterEach(async () => {
  await rm(state, { recursive: true, force: true });
});

const record = (name: string) => ({
  name,
  parent: name === 'main' ? null : 'main',
  state: 'ready',
  port: 55001,
  database: 'postgres',
  user: 'postgres',
  password: 'pw',
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  expiresAt: null,
  protected: false,
  labels: {},
  storage: { driver: 'btrfs', exclusiveBytes: null },
  timings: { createMs: 1 },
});

describe('registry: unreadable records are quarantined, never acted on', () => {
  it('moves truncated, empty and misnamed records aside with a reason and keeps the good ones', async () => {
    const dir = join(state, 'branches');
    const good = JSON.stringify(record('pr-1'));
    await writeFile(join(dir, 'pr-1.json'), good);
    await writeFile(join(dir, 'main.json'), JSON.stringify(record('main')).slice(0, 40));
    await writeFile(join(dir, 'pr-2.json'), '');
    await writeFile(join(dir, 'pr-3.json'), JSON.stringify(record('pr-4')));
    const reg = new Registry(dir);
    expect((await reg.load()).map((r) => r.name)).toEqual(['pr-1']);
    const byBranch = Object.fromEntries(reg.quarantined.map((q) => [q.branch, q.reason]));
    expect(byBranch).toEqual({
      main: 'the file is not valid JSON (truncated or corrupt)',
      'pr-2': 'the file is empty',
      'pr-3': 'the record names branch pr-4, not the one its file is named for',
    });
    expect((await readdir(dir)).sort()).toEqual(['pr-1.json']);
    const moved = await readdir(join(state, 'quarantine'));
    expect(moved).toHaveLength(3);
    // The bytes are kept as they were, for whoever repairs them.
    const mainFile = reg.quarantined.find((q) => q.branch === 'main')!.movedTo;
    expect(await readFile(mainFile, 'utf8')).toBe(JSON.stringify(record('main')).slice(0, 40));
  });

  it('names what is missing from a record that parses', () => {
    const { port: _port, ...noPort } = record('pr-1');
    expect(recordProblem(JSON.stringify(noPort), 'pr-1.json')).toBe('the record has no port');
    expect(recordProblem(JSON.stringify({ ...record('pr-1'), state: 'weird' }), 'pr-1.json')).toBe('the record has no valid state');
    expect(recordProblem(JSON.stringify(record('pr-1')), 'pr-1.json')).toBeNull();
  });
});

describe('registry: a change is visible only once it is on disk', () => {
  it('hands out copies: a record changed but not put is not what others read', async () => {
    const reg = new Registry(join(state, 'branches'));
    await reg.load();
    await reg.put(record('pr-1') as Parameters<Registry['put']>[0]);
    const mine = reg.get('pr-1')!;
    mine.state = 'stopped';
    mine.labels.owner = 'qa';
    expect(reg.get('pr-1')!.state).toBe('ready');
    expect(reg.all()[0].labels).toEqual({});
    expect(reg.ports()).toEqual([55001]);
  });

  it('keeps showing the old record when the write fails (a full disk), and a restart reads the same', async () => {
    const dir = join(state, 'branches');
    const reg = new Registry(dir);
    await reg.load();
    await reg.put(record('pr-1') as Parameters<Registry['put']>[0]);
    const rec = reg.get('pr-1')!;
    rec.state = 'stopped';
    // The temp file's name taken by a directory: the write fails the way ENOSPC does, before the rename.
    await mkdir(join(dir, `pr-1.json.${process.pid}.tmp`));
    await expect(reg.put(rec)).rejects.toThrow(/EISDIR/);
    expect(reg.get('pr-1')!.state).toBe('ready');
    await rm(join(dir, `pr-1.json.${process.pid}.tmp`), { recursive: true });
    const again = new Registry(dir);
    expect((await again.load()).map((r) => r.state)).toEqual(['ready']);
  });
});
