import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { formatBytes } from '../core/durations.ts';
import type { AgentClient } from '../core/client.ts';
import type { InitBody } from '../core/api/requests.ts';
import { flagOption, stringOption, stringsOption } from './args.ts';
import type { CommandContext, CommandSpec } from './command.ts';
import { CliError, UsageError } from './errors.ts';
import { formatMs } from './format.ts';
import type { Progress } from './progress.ts';
import { withProgress } from './progress.ts';

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'create or replace main: empty + seed SQL, a logical import, or a streaming replica',
  usage: 'init (--empty [--seed FILE.sql]... | --from-url URL [--jobs N] | --replica-of URL)',
  description:
    'main is built beside the old one and swapped in when ready: existing branches keep their data, creates meanwhile get the previous main, and a failed build leaves the old main serving. ' +
    '--from-url: pg_dump (directory format, parallel) | pg_restore into main; needs a pg_dump at least as new as the source. ' +
    '--replica-of: pg_basebackup and a streaming hot standby as main; the source must run the same major version as the agent. Masked templates from the agent config are rebuilt afterwards.',
  options: {
    empty: { type: 'boolean' },
    seed: { type: 'string', multiple: true },
    'from-url': { type: 'string' },
    'replica-of': { type: 'string' },
    jobs: { type: 'string' },
  },
  optionHelp: [
    ['--empty', 'start from an empty database'],
    ['--seed FILE.sql', 'with --empty: run this SQL file in main; repeatable, in order'],
    ['--from-url URL', 'logical import of this database (postgresql://user:pass@host:port/db)'],
    ['--jobs N', 'with --from-url: parallel dump/restore jobs (default 2)'],
    ['--replica-of URL', 'physical replica of this server (a role with REPLICATION)'],
  ],
  positionals: { min: 0, max: 0 },
  examples: [
    'vela-branch init --empty --seed schema.sql --seed fixtures.sql',
    'vela-branch init --from-url "postgresql://reader:$PW@prod-replica:5432/shop" --jobs 4',
    'vela-branch init --replica-of "postgresql://replicator:$PW@prod:5432/shop"',
  ],
  async run(ctx, { values }) {
    const modes = [flagOption(values, 'empty'), stringOption(values, 'from-url'), stringOption(values, 'replica-of')].filter(Boolean);
    if (modes.length !== 1) throw new UsageError('init needs exactly one of --empty, --from-url URL, --replica-of URL', 'init');
    let body: InitBody;
    let what: string;
    if (flagOption(values, 'empty')) {
      const cwd = ctx.io.cwd ?? process.cwd();
      const seeds = await Promise.all(stringsOption(values, 'seed').map((file) => readSeed(cwd, file)));
      body = { mode: 'empty', seeds };
      what = `empty${seeds.length ? ` + ${seeds.length} seed file${seeds.length > 1 ? 's' : ''}` : ''}`;
    } else if (stringOption(values, 'from-url')) {
      const jobs = stringOption(values, 'jobs');
      if (jobs !== undefined && !/^([1-9]|1[0-6])$/.test(jobs)) throw new UsageError('--jobs takes a number from 1 to 16', 'init');
      body = { mode: 'logical', sourceUrl: stringOption(values, 'from-url')!, ...(jobs ? { jobs: Number(jobs) } : {}) };
      what = 'logical import';
    } else {
      body = { mode: 'physical', sourceUrl: stringOption(values, 'replica-of')! };
      what = 'streaming replica';
    }
    const started = ctx.now();
    const answer = await runWithBuildProgress(ctx, 'building main…', () => ctx.client.init(body));
    ctx.print(
      `✓ main ready (${what}) in ${formatMs(ctx.now() - started)} · database ${answer.branch.database} · port ${answer.branch.port}`,
    );
    return 0;
  },
};

export const refreshCommand: CommandSpec = {
  name: 'refresh',
  summary: 'rebuild main from the source it was initialised from (and its masked templates)',
  usage: 'refresh',
  description: 'Built beside the old main and swapped in when ready; existing branches keep their data.',
  options: {},
  positionals: { min: 0, max: 0 },
  examples: ['vela-branch refresh'],
  async run(ctx) {
    const started = ctx.now();
    await runWithBuildProgress(ctx, 'refreshing main…', () => ctx.client.refresh());
    ctx.print(`✓ main refreshed in ${formatMs(ctx.now() - started)}`);
    return 0;
  },
};

/** Runs the (long) request while polling the agent's build progress into the spinner. */
async function runWithBuildProgress<T>(ctx: CommandContext, text: string, work: () => Promise<T>): Promise<T> {
  const progress = ctx.progress(text);
  const poll = setInterval(() => void showProgress(ctx.client, progress), 500);
  try {
    return await withProgress(progress, work);
  } finally {
    clearInterval(poll);
  }
}

async function showProgress(client: AgentClient, progress: Progress): Promise<void> {
  const state = await client.progress().catch(() => null);
  if (!state?.running) return;
  const parts = [state.phase];
  if (state.tablesTotal) parts.push(`${state.tablesDone}/${state.tablesTotal} tables`);
  if (state.bytesDone)
    parts.push(state.bytesTotal ? `${formatBytes(state.bytesDone)} of ${formatBytes(state.bytesTotal)}` : formatBytes(state.bytesDone));
  progress.update?.(`${parts[0]}: ${parts.slice(1).join(' · ')}`.replace(/: $/, ''));
}

async function readSeed(cwd: string, file: string): Promise<{ name: string; sql: string }> {
  try {
    return { name: basename(file), sql: await readFile(resolve(cwd, file), 'utf8') };
  } catch (err) {
    throw new CliError(`cannot read seed file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
