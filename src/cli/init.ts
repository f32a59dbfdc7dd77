import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Branch } from '../core/types.ts';
import { flagOption, stringsOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';

/** Body of POST /v1/init; the agent side is the lead's (not in DESIGN.md's API table yet). */
export interface InitBody {
  mode: 'empty';
  seeds: { name: string; sql: string }[];
}

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'create or replace main: an empty database plus optional seed SQL',
  usage: 'init --empty [--seed FILE.sql]...',
  description: 'Seed files run in the order given. Replacing main leaves existing branches on their old snapshot.',
  options: { empty: { type: 'boolean' }, seed: { type: 'string', multiple: true } },
  optionHelp: [
    ['--empty', 'start from an empty database (the only mode so far)'],
    ['--seed FILE.sql', 'run this SQL file in main after creating it; repeatable'],
  ],
  positionals: { min: 0, max: 0 },
  examples: ['vela-branch init --empty', 'vela-branch init --empty --seed schema.sql --seed fixtures.sql'],
  async run(ctx, { values }) {
    if (!flagOption(values, 'empty')) {
      throw new UsageError('init needs --empty (initialising from a source database is not supported yet)', 'init');
    }
    const cwd = ctx.io.cwd ?? process.cwd();
    const seeds = await Promise.all(stringsOption(values, 'seed').map((file) => readSeed(cwd, file)));
    const body: InitBody = { mode: 'empty', seeds };
    const started = ctx.now();
    const answer = await withProgress(ctx.progress('initialising main…'), () =>
      ctx.client.request<{ branch?: Branch } & Partial<Branch>>('POST', '/v1/init', body),
    );
    const branch = answer?.branch ?? (answer?.name ? (answer as Branch) : undefined);
    const seeded = seeds.length ? ` + ${seeds.length} seed file${seeds.length > 1 ? 's' : ''}` : '';
    const port = branch?.port ? ` · port ${branch.port}` : '';
    ctx.print(`✓ initialised ${branch?.name ?? 'main'} (empty${seeded}) in ${formatMs(ctx.now() - started)}${port}`);
    return 0;
  },
};

async function readSeed(cwd: string, file: string): Promise<{ name: string; sql: string }> {
  try {
    return { name: basename(file), sql: await readFile(resolve(cwd, file), 'utf8') };
  } catch (err) {
    throw new CliError(`cannot read seed file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
