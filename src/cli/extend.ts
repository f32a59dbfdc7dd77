import { DURATION_RULE, parseDuration } from '../core/durations.ts';
import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';
import { UsageError } from './errors.ts';
import { formatTimestamp, formatTtlLeft } from './format.ts';

export const extendCommand: CommandSpec = {
  name: 'extend',
  summary: 'set how long a branch lives from now ("never" removes the TTL)',
  usage: 'extend NAME TTL',
  options: {},
  positionals: { min: 2, max: 2 },
  examples: ['vela-branch extend pr-1 2d', 'vela-branch extend demo never'],
  async run(ctx, { args }) {
    const name = branchArg(args[0], 'extend');
    const ttlArg = args[1];
    const ttl = ttlArg === 'never' ? null : ttlArg;
    if (ttl !== null && parseDuration(ttl) === null) {
      throw new UsageError(`invalid TTL ${JSON.stringify(ttl)}: ${DURATION_RULE}, or "never"`, 'extend');
    }
    const branch = await ctx.client.patch(name, { ttl });
    ctx.print(
      branch.expiresAt
        ? `✓ ${name} expires ${formatTimestamp(branch.expiresAt)} UTC (in ${formatTtlLeft(branch.expiresAt, ctx.now())})`
        : `✓ ${name} no longer expires`,
    );
    return 0;
  },
};
