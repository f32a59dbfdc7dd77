import { afterAll, beforeAll, expect, it } from 'vitest';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';
import { resolvePostgresUser } from '../../src/agent/postgres/os-user.ts';
import type { OsUser } from '../../src/agent/postgres/os-user.ts';

// Run as the postgres OS user: replaces each path with a symlink (rm -r first), prints what it managed.
const PLANT = `
const fs = require('fs');
const [fileDecoy, dirDecoy, ...paths] = process.argv.slice(1);
const planted = [];
for (const p of paths) {
  const wasDir = (() => { try { return fs.lstatSync(p).isDirectory(); } catch { return false; } })();
  try {
    fs.rmSync(p, { recursive: true, force: true });
    fs.symlinkSync(wasDir ? dirDecoy : fileDecoy, p);
    planted.push(p);
  } catch {}
}
process.stdout.write(JSON.stringify(planted));
`;

/** Names the agent creates, rewrites or removes in a data dir, present or not. */
const AGENT_NAMES = [
  'postgresql.conf',
  'postgresql.auto.conf',
  'pg_hba.conf',
  'vela.conf',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'postmaster.pid',
  'postmaster.opts',
  'standby.signal',
  'recovery.signal',
];

describeWithPool('a branch holder cannot make the root agent follow a planted symlink', () => {
  let engine: TestEngine;
  let decoys: string;
  let user: OsUser;

  beforeAll(async () => {
    engine = await openTestEngine('symlink');
    const u = await resolvePostgresUser(processRunner, engine.options.pgUser, () => {});
    if (!u) throw new Error('the agent runs postgres as itself: this test needs root');
    user = u;
    await engine.manager.create({ name: 'victim' });
    // Root's decoys in a 0755 root directory, modes the agent would change if it followed a link.
    decoys = await mkdtemp('/var/tmp/vela-decoys-');
    await chmod(decoys, 0o755);
    await writeFile(join(decoys, 'decoy.txt'), 'root decoy\n', { mode: 0o644 });
    await chmod(join(decoys, 'decoy.txt'), 0o644);
    await mkdir(join(decoys, 'decoy-dir'), { mode: 0o755 });
    await chmod(join(decoys, 'decoy-dir'), 0o755);
    await writeFile(join(decoys, 'decoy-dir', 'inner.txt'), 'root inner\n', { mode: 0o644 });
  }, 120_000);

  afterAll(async () => {
    await engine?.destroy();
    if (decoys) await rm(decoys, { recursive: true, force: true });
  });

  /** Every entry under the decoys dir: content, mode, owner. */
  async function decoyState(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const walk = async (dir: string) => {
      for (const e of await readdir(dir)) {
        const p = join(dir, e);
        const st = await lstat(p);
        const body = st.isFile() ? await readFile(p, 'utf8') : st.isDirectory() ? 'dir' : 'other';
        out[p] = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${body}`;
        if (st.isDirectory()) await walk(p);
      }
    };
    await walk(decoys);
    return out;
  }

  /** As the postgres OS user: every entry of the data dir and socket dir (and what the agent writes there) becomes a link. */
  async function plant(port: number): Promise<string[]> {
    const dataDir = engine.storage.volumePath('victim');
    const socketDir = engine.pg.socketDir(port);
    const names = new Set([...(await readdir(dataDir)), ...AGENT_NAMES]);
    const socketEntries = await readdir(socketDir).catch(() => [] as string[]);
    const paths = [
      ...[...names].map((n) => join(dataDir, n)),
      ...[...socketEntries, `.s.PGSQL.${port}`, `.s.PGSQL.${port}.lock`].map((n) => join(socketDir, n)),
      // Root's: these must fail.
      socketDir,
      engine.pg.logFile('victim'),
      join(engine.pg.socketRoot, String(port + 1)),
    ];
    const r = await processRunner([process.execPath, '-e', PLANT, join(decoys, 'decoy.txt'), join(decoys, 'decoy-dir'), ...paths], {
      uid: user.uid,
      gid: user.gid,
    });
    return JSON.parse(r.stdout) as string[];
  }

  it('stop, start, reset and delete leave every decoy as it was', async () => {
    const before = await decoyState();
    const m = engine.manager;
    const ops: [string, () => Promise<unknown>][] = [
      ['stop', () => m.stop('victim')],
      ['start', () => m.start('victim')],
      ['reset', () => m.reset('victim')],
      ['start', () => m.start('victim')],
      ['stop', () => m.stop('victim')],
      ['start', () => m.start('victim')],
      ['delete', () => m.delete('victim')],
    ];
    const outcomes: string[] = [];
    for (const [what, op] of ops) {
      const port = m.get('victim').port;
      const planted = await plant(port);
      // The whole data dir and the socket files are the branch's own to replace ...
      expect(planted.length).toBeGreaterThan(20);
      // ... the socket dir, its root and the log file are root's.
      expect(planted).not.toContain(engine.pg.socketDir(port));
      expect(planted).not.toContain(engine.pg.logFile('victim'));
      expect(planted.some((p) => p.startsWith(engine.pg.socketRoot) && !p.startsWith(engine.pg.socketDir(port)))).toBe(false);
      await op().then(
        () => outcomes.push(`${what} ok`),
        (e: Error) => outcomes.push(`${what} failed: ${e.message.slice(0, 400)}`),
      );
      expect(await decoyState(), `after ${what}`).toEqual(before);
    }
    // The operations really ran (a reset gives a fresh volume, delete removes the branch).
    expect(outcomes.find((o) => o.startsWith('reset'))).toBe('reset ok');
    expect(outcomes.at(-1)).toBe('delete ok');
    expect(m.find('victim')).toBeUndefined();
    // The agent's own directories stayed root's.
    for (const dir of [engine.pg.logDir, engine.pg.socketRoot]) {
      const st = await stat(dir);
      expect([st.uid, (st.mode & 0o777).toString(8)], dir).toEqual([0, '755']);
    }
  }, 240_000);

  it('the pool is mounted nosuid,nodev', async () => {
    const pool = join(engine.dataDir, 'pool');
    const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === pool);
    expect(line?.split(' ')[5].split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev']));
  });
});
