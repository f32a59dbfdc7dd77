import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/agent/audit.ts';

let dir: string;
let path: string;
const opened: AuditLog[] = [];

function openLog(): AuditLog {
  const log = new AuditLog(path);
  opened.push(log);
  return log;
}

const rec = (action: string, branch: string | null = 'pr-1') => ({ actor: 'token:ci', action, branch, result: 'ok', status: 200 }) as const;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vela-audit-'));
  path = join(dir, 'nested', 'audit.jsonl');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('appends JSON lines with increasing ids to a 0600 file', async () => {
    const log = openLog();
    const a = await log.append(rec('create'));
    const b = await log.append({ ...rec('delete'), requestId: 'req-1', detail: 'cascade' });
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(Date.parse(a.time)).not.toBeNaN();
    expect(b).toMatchObject({ action: 'delete', requestId: 'req-1', detail: 'cascade' });

    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).id)).toEqual([1, 2]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('assigns distinct ordered ids to concurrent appends', async () => {
    const log = openLog();
    const recs = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(rec(`a${i}`))));
    expect(recs.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const listed = await log.list({ limit: 100 });
    expect(listed.map((r) => r.action)).toEqual(recs.map((r) => r.action).reverse());
  });

  it('lists newest first, filtered by branch and limited', async () => {
    const log = openLog();
    await log.append(rec('create', 'pr-1'));
    await log.append(rec('create', 'pr-2'));
    await log.append(rec('reset', 'pr-1'));
    await log.append(rec('list', null));
    expect((await log.list()).map((r) => r.id)).toEqual([4, 3, 2, 1]);
    expect((await log.list({ branch: 'pr-1' })).map((r) => r.action)).toEqual(['reset', 'create']);
    expect((await log.list({ limit: 2 })).map((r) => r.id)).toEqual([4, 3]);
  });

  it('continues ids after a restart and keeps old records', async () => {
    const first = openLog();
    await first.append(rec('create'));
    await first.append(rec('reset'));
    await first.close();

    const second = openLog();
    const next = await second.append(rec('delete'));
    expect(next.id).toBe(3);
    expect((await second.list()).map((r) => r.action)).toEqual(['delete', 'reset', 'create']);
  });

  it('skips a torn last line after a crash and appends cleanly after it', async () => {
    const first = openLog();
    await first.append(rec('create'));
    await first.close();
    await appendFile(path, '{"id":2,"time":"2025-01-01T00:00:00Z","actor":"tok'); // crash mid-write

    const second = openLog();
    expect((await second.list()).map((r) => r.id)).toEqual([1]);
    const next = await second.append(rec('reset'));
    expect(next.id).toBe(2);
    await second.close();

    const third = openLog();
    expect((await third.list()).map((r) => [r.id, r.action])).toEqual([
      [2, 'reset'],
      [1, 'create'],
    ]);
  });
});
