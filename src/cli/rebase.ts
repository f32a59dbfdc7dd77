import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';

export const rebaseCommand: CommandSpec = {
  name: 'rebase',
  summary: "move a branch onto its parent's current state, keeping its own changes",
  usage: 'rebase NAME',
  description: 'Stops at the first conflict, lists it, and leaves the branch exactly as it was.',
  options: {},
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch rebase pr-1'],
  async run(ctx, { args }) {
    const name = branchArg(args[0], 'rebase');
    const started = ctx.now();
    const branch = await withProgress(ctx.progress(`rebasing ${name}…`), () => ctx.client.rebase(name));
    ctx.print(`✓ rebased ${name}${branch.parent ? ` onto ${branch.parent}` : ''} in ${formatMs(ctx.now() - started)}`);
    return 0;
  },
};
