import type { CommandSpec } from './command.ts';

export const caCommand: CommandSpec = {
  name: 'ca',
  summary: 'print the CA certificate of branch postgres TLS (for sslmode=verify-full)',
  usage: 'ca',
  description:
    'Connection strings say sslmode=require (encrypted, server not verified). Save this certificate and connect with sslmode=verify-full sslrootcert=FILE to verify the server too.',
  options: {},
  positionals: { min: 0, max: 0 },
  examples: [
    'vela-branch ca > vela-ca.pem',
    'psql "$(vela-branch url pr-1 | sed s/sslmode=require/sslmode=verify-full/)&sslrootcert=vela-ca.pem"',
  ],
  async run(ctx) {
    const { pem } = await ctx.client.ca();
    ctx.print(pem.trimEnd());
    return 0;
  },
};
