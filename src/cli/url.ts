import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';
import { fetchConnection } from './connection.ts';

export const urlCommand: CommandSpec = {
  name: 'url',
  summary: 'print the connection URI, password included (for scripts)',
  usage: 'url NAME',
  description: 'The only command that prints a password: meant for $(vela-branch url NAME), not for logs.',
  options: {},
  positionals: { min: 1, max: 1 },
  examples: ['export DATABASE_URL="$(vela-branch url pr-1)"', 'pg_dump "$(vela-branch url pr-1)" > pr-1.sql'],
  async run(ctx, { args }) {
    const connection = await fetchConnection(ctx, branchArg(args[0], 'url'));
    ctx.print(connection.uri);
    return 0;
  },
};
