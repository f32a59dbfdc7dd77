import { branchArg, flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';

export const deleteCommand: CommandSpec = {
  name: 'delete',
  summary: 'destroy a branch and free its storage and port',
  usage: 'delete NAME [--cascade] [--force]',
  options: { cascade: { type: 'boolean' }, force: { type: 'boolean' } },
  optionHelp: [
    ['--cascade', 'also delete the branches made from it'],
    ['--force', 'also delete a protected branch (needs an admin token)'],
  ],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch delete pr-1', 'vela-branch delete staging --cascade'],
  async run(ctx, { args, values }) {
    const name = branchArg(args[0], 'delete');
    const started = ctx.now();
    const { deleted } = await withProgress(ctx.progress(`deleting ${name}…`), () =>
      ctx.client.delete(name, { cascade: flagOption(values, 'cascade'), force: flagOption(values, 'force') }),
    );
    const names = deleted?.length ? deleted.join(', ') : name;
    ctx.print(`✓ deleted ${names} in ${formatMs(ctx.now() - started)}`);
    return 0;
  },
};
