import { branchArg, flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';

export const resetCommand: CommandSpec = {
  name: 'reset',
  summary: "throw away a branch's changes: re-snapshot it from its parent's current state",
  usage: 'reset NAME [--force]',
  description: 'Name, port and credentials stay the same, so connection strings keep working.',
  options: { force: { type: 'boolean' } },
  optionHelp: [['--force', 'also reset a protected branch (needs an admin token)']],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch reset pr-1'],
  async run(ctx, { args, values }) {
    const name = branchArg(args[0], 'reset');
    const started = ctx.now();
    const branch = await withProgress(ctx.progress(`resetting ${name}…`), () =>
      ctx.client.reset(name, { force: flagOption(values, 'force') }),
    );
    const agentMs = branch.timings?.resetMs;
    const took = agentMs != null ? `${formatMs(agentMs)} (agent)` : formatMs(ctx.now() - started);
    ctx.print(`✓ reset ${name}${branch.parent ? ` to ${branch.parent}` : ''} in ${took} · port ${branch.port}`);
    return 0;
  },
};
