import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithPool } from '../helpers/env.ts';
import { openTestEngine, sql } from '../helpers/engine-harness.ts';
import type { TestEngine } from '../helpers/engine-harness.ts';
import { checksum, FakeLog, FEATURE_WORK, PARENT_MOVES_ON, PARENT_SEED } from '../helpers/rebase-log.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import { processesUnder } from '../../src/agent/postgres/processes.ts';

const CHILD = fileURLToPath(new URL('../helpers/rebase-crash-child.ts', import.meta.url));

/** Every step of a rebase; from `rebase-swapping` on the replay succeeded and recovery finishes it. */
const STEPS = [
  'rebase-recorded',
  'rebase-snapshotted',
  'rebase-started',
  'rebase-replayed-tx-2',
  'rebase-replayed',
  'rebase-swapping',
  'rebase-renamed',
  'rebase-started-in-place',
];
const FINISHED_FROM = STEPS.indexOf('rebase-swapping');

/**
 * `log`: a hand-written change log, every step. `capture`: the engine's own change capture (the
 * branch's owner writes over TCP), the steps around the swap, where capture goes onto the new volume.
 */
function crashSuite(mode: 'log' | 'capture', steps: string[]): void {
  describeWithPool(
    `kill -9 of the process holding the engine during a rebase (${mode === 'log' ? 'hand-written log, every step' : 'real change capture'}; real postgres, real SIGKILL)`,
    () => {
      let e: TestEngine;
      const log = new FakeLog();
      const capture = mode === 'log' ? { capture: { reader: log, install: async () => {} } } : {};
      const uri = (name: string) => connectionInfo(e.manager.get(name), '127.0.0.1').uri;
      const before = new Map<string, { uri: string; sum: string }>();
      const branch = (i: number) => `crash-${i}`;

      /** Runs a rebase of `name` in a child process that SIGKILLs itself at `step`. */
      async function rebaseKilledAt(name: string, step: string): Promise<NodeJS.Signals | null> {
        const logFile = join(e.dataDir, `log-${name}.json`);
        if (mode === 'log') await writeFile(logFile, JSON.stringify(log.logs.get(name)));
        // The child is the agent now: this engine's drainer must not read the branch the child swaps.
        e.detach();
        const child = spawn(process.execPath, [CHILD], {
          env: {
            ...process.env,
            VELA_CHILD_OPTS: JSON.stringify(e.options),
            ...(mode === 'log' ? { VELA_CHILD_LOG: logFile } : {}),
            VELA_CHILD_BRANCH: name,
            VELA_CHILD_CRASH_AT: step,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
        if (signal !== 'SIGKILL') throw new Error(`the child did not die at ${step}: ${out}`);
        return signal;
      }

      beforeAll(async () => {
        e = await openTestEngine(`rebase-crash-${mode}`, capture);
        await sql(uri('main'), PARENT_SEED);
        for (let i = 0; i < steps.length; i++) {
          await e.manager.create({ name: branch(i) });
          for (const [statement, changes] of FEATURE_WORK) {
            await sql(uri(branch(i)), statement);
            log.add(branch(i), changes);
          }
          before.set(branch(i), { uri: uri(branch(i)), sum: await checksum(uri(branch(i))) });
        }
        await sql(uri('main'), PARENT_MOVES_ON);
      });

      afterAll(async () => {
        await e?.destroy();
      });

      it.each(steps.map((step, i) => ({ step, i })))('killed at $step: after the next start the branch is whole', async ({ step, i }) => {
        const name = branch(i);
        expect(await rebaseKilledAt(name, step)).toBe('SIGKILL');
        e = await e.reopen();

        const rec = e.manager.get(name);
        expect(rec).toMatchObject({ state: 'ready' });
        expect(rec.rebasing).toBeUndefined();
        expect(uri(name)).toBe(before.get(name)!.uri);
        const ids = (await sql<{ id: number }>(uri(name), 'SELECT id FROM items ORDER BY id')).map((r) => r.id);
        const finished = STEPS.indexOf(step) >= FINISHED_FROM;
        if (!finished) {
          // Exactly as before: same bytes, none of main's later rows.
          expect(await checksum(uri(name))).toBe(before.get(name)!.sum);
          expect(ids).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 100]);
        } else {
          // Fully rebased: main's column and rows, and all of the branch's own changes.
          expect(ids).toEqual([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 100]);
          expect(await sql(uri(name), 'SELECT name, price FROM items WHERE id = 3')).toEqual([{ name: 'renamed', price: 7 }]);
          expect(await sql(uri(name), 'SELECT body FROM notes')).toEqual([{ body: 'hello' }]);
        }
        // No orphans: no staging volume, no postgres on one, no socket dir of a port nobody holds.
        expect((await e.storage.listStaging()).filter((v) => v.endsWith(name))).toEqual([]);
        const procs = await processesUnder(e.dataDir);
        expect(procs.filter((p) => p.argv.some((a) => a.includes(`.next-${name}`) || a.includes(`.old-${name}`)))).toEqual([]);
        const held = new Set(e.manager.list().map((r) => String(r.port)));
        expect((await readdir(e.pg.socketRoot)).filter((d) => !held.has(d))).toEqual([]);
        // And nothing is stuck: a rebase now goes through (on top of main's current state), and with
        // real capture a change made after the recovery is captured and kept too.
        if (mode === 'capture') await sql(uri(name), "INSERT INTO items VALUES (500, 'after')");
        if (!finished || mode === 'capture') {
          await e.rebaser.rebase(name);
          const expected = mode === 'capture' ? [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 100, 500] : [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 100];
          expect((await sql<{ id: number }>(uri(name), 'SELECT id FROM items ORDER BY id')).map((r) => r.id)).toEqual(expected);
        }
      });
    },
  );
}

crashSuite('log', STEPS);
crashSuite('capture', ['rebase-replayed-tx-2', 'rebase-swapping', 'rebase-started-in-place']);
