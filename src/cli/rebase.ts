import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';

export const rebaseCommand: CommandSpec = {
  name: 'rebase',
  summary: "move a branch onto its parent's current state, keeping its own changes",
  usage: 'rebase NAME',
  description:
    "Snapshots the parent's current state and replays the branch's own changes (DDL and rows, in commit order) onto it; name, port and credentials stay the same. Stops at the first conflict, lists it (kind, table, key, the branch's statement, the parent's current row), and leaves the branch exactly as it was. Clients of the branch are disconnected while it runs.",
  options: {},
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch rebase pr-1'],
  async run(ctx, { args }) {
    const name = branchArg(args[0], 'rebase');
    const started = ctx.now();
    const branch = await withProgress(ctx.progress(`rebasing ${name}…`), () => ctx.client.rebase(name));
    const agentMs = branch.timings?.rebaseMs;
    const took = agentMs != null ? `${formatMs(agentMs)} (agent)` : formatMs(ctx.now() - started);
    ctx.print(`✓ rebased ${name}${branch.parent ? ` onto ${branch.parent}` : ''} in ${took} · port ${branch.port}`);
    return 0;
  },
};
