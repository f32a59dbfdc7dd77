import { spawn } from 'node:child_process';
import { branchArg } from './args.ts';
import type { CommandSpec } from './command.ts';
import { fetchConnection } from './connection.ts';
import { CliError } from './errors.ts';
import type { SpawnFn } from './io.ts';
import { uriWithoutPassword } from './redact.ts';

export const psqlCommand: CommandSpec = {
  name: 'psql',
  summary: 'open psql on a branch (extra psql arguments after --)',
  usage: 'psql NAME [-- PSQL_ARGS...]',
  description: 'The password goes to psql through PGPASSWORD, never on its command line. Set VELA_PSQL to use another psql binary.',
  options: {},
  positionals: { min: 1, max: 1 },
  passthrough: true,
  examples: ['vela-branch psql pr-1', "vela-branch psql pr-1 -- -c 'select count(*) from users'"],
  async run(ctx, { args, rest }) {
    const name = branchArg(args[0], 'psql');
    const connection = await fetchConnection(ctx, name);
    const uri = uriWithoutPassword(connection.uri);
    if (!uri) throw new CliError(`the agent returned a connection URI for ${name} that does not parse`);
    const psql = ctx.io.env.VELA_PSQL || 'psql';
    const run = ctx.io.spawn ?? spawnInteractive;
    try {
      return await run(psql, [uri, ...rest], { ...ctx.io.env, PGPASSWORD: connection.password });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CliError(
          `${psql} is not installed or not on PATH; install the PostgreSQL client (e.g. apt-get install postgresql-client), set VELA_PSQL, or use $(vela-branch url ${name})`,
        );
      }
      throw err;
    }
  },
};

/** Runs a program on the user's terminal and resolves with its exit code (128+n for a signal). */
export const spawnInteractive: SpawnFn = (command, args, env) =>
  new Promise((resolve, reject) => {
    // Ctrl-C belongs to psql (it cancels the running query); the CLI must not die under it.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    const child = spawn(command, args, { stdio: 'inherit', env });
    child.once('error', (err) => {
      process.off('SIGINT', ignore);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });

function signalNumber(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1;
}
