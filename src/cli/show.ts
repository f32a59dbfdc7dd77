import type { Branch } from '../core/api/index.ts';
import { formatBytes } from '../core/durations.ts';
import { branchArg, flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatAge, formatMs, formatTimestamp, formatTtlLeft } from './format.ts';
import { redactBranch } from './redact.ts';

export const showCommand: CommandSpec = {
  name: 'show',
  summary: 'show one branch (never its password)',
  usage: 'show NAME [--json]',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print the branch as JSON (password removed)']],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch show pr-1', 'vela-branch show pr-1 --json'],
  async run(ctx, { args, values }) {
    const branch = await ctx.client.get(branchArg(args[0], 'show'));
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify(redactBranch(branch), null, 2));
      return 0;
    }
    ctx.print(describeBranch(branch, ctx.now()));
    return 0;
  },
};

export function describeBranch(branch: Branch, now: number): string {
  const fields: [string, string][] = [
    ['name', branch.name],
    ['state', branch.error ? `${branch.state} (${branch.error})` : branch.state],
    ['parent', branch.parent ?? '-'],
    ['created', `${formatTimestamp(branch.createdAt)} UTC (${formatAge(branch.createdAt, now)} ago)`],
    ['expires', branch.expiresAt ? `${formatTimestamp(branch.expiresAt)} UTC (${formatTtlLeft(branch.expiresAt, now)})` : 'never'],
    ['protected', branch.protected ? 'yes' : 'no'],
    [
      'labels',
      Object.entries(branch.labels ?? {})
        .map(([key, value]) => `${key}=${value}`)
        .join(', ') || '-',
    ],
    ['storage', `${branch.storage?.driver ?? '-'}, ${formatBytes(branch.storage?.exclusiveBytes)} exclusive`],
    ['create time', formatMs(branch.timings?.createMs)],
    ['host', branch.host],
    [
      'port',
      branch.directPort === undefined ? String(branch.port) : `${branch.port} (postgres proxy; the branch's own: ${branch.directPort})`,
    ],
    ['database', branch.database],
    ['user', branch.user],
    ['password', `(hidden; use vela-branch url ${branch.name})`],
  ];
  const width = Math.max(...fields.map(([key]) => key.length)) + 1;
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width)} ${value}`).join('\n');
}
