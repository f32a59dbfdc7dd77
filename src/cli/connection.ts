import type { ConnectionInfo } from '../core/api/index.ts';
import type { CommandContext } from './command.ts';
import { CliError } from './errors.ts';

/**
 * Credentials of a branch, or an error that says why there are none. The agent decides: a ready
 * branch has them, and so does a stopped one behind its postgres proxy (connecting wakes it).
 */
export async function fetchConnection(ctx: CommandContext, name: string): Promise<ConnectionInfo> {
  const branch = await ctx.client.get(name);
  if (branch.connection) return branch.connection;
  if (branch.state !== 'ready') {
    const hint = branch.state === 'stopped' ? `; start it with: vela-branch start ${name}` : '';
    throw new CliError(`branch ${name} is ${branch.state}, only a ready branch has connection info${hint}`);
  }
  if (!branch.connection) {
    throw new CliError(`the agent gave no credentials for ${name}: the token in use may not write this branch`);
  }
  return branch.connection;
}
