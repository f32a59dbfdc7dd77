import type { Branch } from '../core/api/index.ts';
import { formatBytes } from '../core/durations.ts';
import { flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatAge, formatMs, formatTtlLeft, renderTable } from './format.ts';

export const listCommand: CommandSpec = {
  name: 'list',
  summary: 'list branches with state, parent, port, age, TTL left and size',
  usage: 'list [--json]',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', "print the agent's answer as JSON"]],
  positionals: { min: 0, max: 0 },
  examples: ['vela-branch list', "vela-branch list --json | jq -r '.branches[].name'"],
  async run(ctx, { values }) {
    const { branches } = await ctx.client.list();
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify({ branches }, null, 2));
      return 0;
    }
    if (branches.length === 0) {
      ctx.print('no branches yet; create one with: vela-branch create NAME');
      return 0;
    }
    ctx.print(branchTable(branches, ctx.now()));
    return 0;
  },
};

export function branchTable(branches: Branch[], now: number): string {
  const rows = branches.map((branch) => [
    branch.protected ? `${branch.name} (protected)` : branch.name,
    branch.state,
    branch.parent ?? '-',
    String(branch.port),
    formatAge(branch.createdAt, now),
    formatTtlLeft(branch.expiresAt, now),
    formatBytes(branch.storage?.exclusiveBytes),
    formatMs(branch.timings?.createMs),
  ]);
  return renderTable(['NAME', 'STATE', 'PARENT', 'PORT', 'AGE', 'TTL', 'SIZE', 'CREATE'], rows, [
    'left',
    'left',
    'left',
    'right',
    'left',
    'left',
    'right',
    'right',
  ]);
}
