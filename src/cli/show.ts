import type { Branch } from '../core/types.ts';
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

export function describeBranch(b: Branch, now: number): string {
  const fields: [string, string][] = [
    ['name', b.name],
    ['state', b.error ? `${b.state} (${b.error})` : b.state],
    ['parent', b.parent ?? '-'],
    ['created', `${formatTimestamp(b.createdAt)} UTC (${formatAge(b.createdAt, now)} ago)`],
    ['expires', b.expiresAt ? `${formatTimestamp(b.expiresAt)} UTC (${formatTtlLeft(b.expiresAt, now)})` : 'never'],
    ['protected', b.protected ? 'yes' : 'no'],
    [
      'labels',
      Object.entries(b.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || '-',
    ],
    ['storage', `${b.storage?.driver ?? '-'}, ${formatBytes(b.storage?.exclusiveBytes)} exclusive`],
    ['create time', formatMs(b.timings?.createMs)],
    ['host', b.host],
    ['port', String(b.port)],
    ['database', b.database],
    ['user', b.user],
    ['password', `(hidden; use vela-branch url ${b.name})`],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n');
}
