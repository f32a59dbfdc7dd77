import { branchArg, flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';

export const diffCommand: CommandSpec = {
  name: 'diff',
  summary: 'show the schema changes of a branch against its parent',
  usage: 'diff NAME [--json]',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print {sql, summary} as JSON']],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch diff pr-1', 'vela-branch diff pr-1 --json | jq -r .sql > migration.sql'],
  async run(ctx, { args, values }) {
    const result = await ctx.client.diff(branchArg(args[0], 'diff'));
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify(result, null, 2));
      return 0;
    }
    if (result.summary.length === 0 && !result.sql.trim()) {
      ctx.print('no schema changes');
      return 0;
    }
    for (const line of result.summary) ctx.print(`• ${line}`);
    if (result.sql.trim()) ctx.print(`\n${result.sql.trimEnd()}`);
    return 0;
  },
};
