import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';

export const stopCommand: CommandSpec = {
  name: 'stop',
  summary: "suspend a branch's postgres process (storage is kept)",
  usage: 'stop NAME',
  options: {},
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch stop pr-1'],
  async run(ctx, { args }) {
    const branch = await ctx.client.stop(branchArg(args[0], 'stop'));
    ctx.print(`✓ ${branch.name} is ${branch.state}`);
    return 0;
  },
};

export const startCommand: CommandSpec = {
  name: 'start',
  summary: 'resume a stopped branch',
  usage: 'start NAME',
  options: {},
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch start pr-1'],
  async run(ctx, { args }) {
    const branch = await ctx.client.start(branchArg(args[0], 'start'));
    ctx.print(`✓ ${branch.name} is ${branch.state} · port ${branch.port}`);
    return 0;
  },
};
