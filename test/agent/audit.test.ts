import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
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

  it('rotates by size, keeps ids counting, and lists across the rotated files', async () => {
    const log = new AuditLog(path, { maxBytes: 2000, keep: 2 });
    opened.push(log);
    for (let i = 0; i < 60; i++) await log.append(rec(`a${i}`));
    const files = (await readdir(join(dir, 'nested'))).sort();
    expect(files).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    for (const f of files) expect((await stat(join(dir, 'nested', f))).size).toBeLessThan(2000 + 200);
    const listed = await log.list({ limit: 1000 });
    expect(listed[0].id).toBe(60);
    // Ids run without gaps through the kept files; the oldest records were dropped with the oldest file.
    expect(listed.map((r) => r.id)).toEqual(Array.from({ length: listed.length }, (_, i) => 60 - i));
    expect(listed.length).toBeLessThan(60);
    await log.close();
    const reopened = new AuditLog(path, { maxBytes: 2000, keep: 2 });
    opened.push(reopened);
    expect((await reopened.append(rec('after'))).id).toBe(61);
  });

  it('reads from the end: the newest records of a large trail without reading all of it', async () => {
    const line = (id: number) => JSON.stringify({ ...rec(`bulk${id}`), id, time: '2025-01-01T00:00:00Z' }) + '\n';
    let text = '';
    for (let i = 1; i <= 50_000; i++) text += line(i);
    await mkdir(join(dir, 'nested'), { recursive: true });
    await appendFile(path, text);
    const log = openLog();
    const t0 = performance.now();
    const last = await log.list({ limit: 3 });
    const ms = performance.now() - t0;
    expect(last.map((r) => r.id)).toEqual([50_000, 49_999, 49_998]);
    expect(ms).toBeLessThan(200);
    expect((await log.append(rec('next'))).id).toBe(50_001);
  });

  it('refused requests are summarised: one record per kind, written in one batch', async () => {
    const log = new AuditLog(path, { deniedFlushMs: 60_000 });
    opened.push(log);
    for (let i = 0; i < 500; i++)
      log.denied({ actor: 'anonymous', action: 'GET /v1/branches', branch: null, status: 401, client: '10.0.0.9' });
    log.denied({ actor: 'token:ci', action: 'branch.reset', branch: 'main', status: 403, client: '10.0.0.8', requestId: 'r-1' });
    await expect(stat(path)).rejects.toThrow(/ENOENT/); // nothing written per request
    const listed = await log.list();
    expect(listed).toHaveLength(2);
    expect(listed.find((r) => r.status === 401)).toMatchObject({ actor: 'anonymous', result: 'denied' });
    expect(listed.find((r) => r.status === 401)?.detail).toMatch(/^500 requests from 10\.0\.0\.9 from /);
    expect(listed.find((r) => r.status === 403)).toMatchObject({
      branch: 'main',
      requestId: 'r-1',
      detail: expect.stringMatching(/^1 request from 10\.0\.0\.8 at /),
    });
  });
});
