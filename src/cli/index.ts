import { AgentClient, AgentError } from '../core/client.ts';
import { parseCommandArgs } from './args.ts';
import { describeRebaseConflict, rebaseConflictsOf } from '../core/workflows/rebase-conflicts.ts';
import { auditCommand } from './audit.ts';
import { caCommand } from './ca.ts';
import type { CommandContext, CommandSpec } from './command.ts';
import { resolveAgentTarget, type AgentTarget } from './config.ts';
import { createCommand } from './create.ts';
import { deleteCommand } from './delete.ts';
import { diffCommand } from './diff.ts';
import { doctorCommand } from './doctor.ts';
import { VERSION } from '../core/version.ts';
import { CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import { extendCommand } from './extend.ts';
import { commandHelp, EXTERNAL_COMMANDS, overviewHelp } from './help.ts';
import { initCommand, refreshCommand } from './init.ts';
import type { CliIo, ModuleLoader } from './io.ts';
import { listCommand } from './list.ts';
import { startProgress } from './progress.ts';
import { psqlCommand } from './psql.ts';
import { rebaseCommand } from './rebase.ts';
import { resetCommand } from './reset.ts';
import { showCommand } from './show.ts';
import { startCommand, stopCommand } from './stop-start.ts';
import { closestName } from './suggest.ts';
import { urlCommand } from './url.ts';

export const COMMANDS: CommandSpec[] = [
  initCommand,
  refreshCommand,
  createCommand,
  listCommand,
  showCommand,
  urlCommand,
  psqlCommand,
  resetCommand,
  rebaseCommand,
  diffCommand,
  deleteCommand,
  stopCommand,
  startCommand,
  extendCommand,
  auditCommand,
  doctorCommand,
  caCommand,
];

// Loaded only when their command runs, so a client command never pays for fastify or Probot.
// Literal specifiers, so the published bundle (scripts/build-cli.mjs) can include them.
const defaultLoader: ModuleLoader = {
  agent: () => import('./agent.ts'),
  app: () => import('../app/run.ts'),
};

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

/** Entry point of `vela-branch`: returns the exit code (0 ok, 1 error, 2 usage). */
const APP_HELP = `Usage: vela-branch app

Runs the Probot GitHub App: a branch pr-<n>-<repo>-<hash> per pull request, deleted on close, and /vela commands.
Environment: APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH), WEBHOOK_SECRET (required), GHE_HOST, PORT (Probot's own),
plus VELA_AGENT_URL and VELA_TOKEN (the agent it talks to). See the README section "GitHub App".`;

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...rest] = argv;
  const out = (text: string) => io.stdout.write(`${text}\n`);
  const fail = (message: string) => io.stderr.write(`vela-branch: ${message}\n`);
  let target: AgentTarget | undefined;
  try {
    if (name === undefined) {
      io.stderr.write(`${overviewHelp(COMMANDS)}\n`);
      return EXIT_USAGE;
    }
    if (name === '--help' || name === '-h') {
      out(overviewHelp(COMMANDS));
      return EXIT_OK;
    }
    if (name === 'help') return printHelpFor(rest[0], out);
    if (name === '--version' || name === '-v' || name === 'version') {
      out(readVersion());
      return EXIT_OK;
    }
    const loader = io.load ?? defaultLoader;
    if (name === 'agent') return await (await loader.agent()).runAgentCommand(rest);
    if (name === 'app') {
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(`${APP_HELP}\n`);
        return EXIT_OK;
      }
      // The Probot server keeps the process alive; its settings come from the environment.
      try {
        await (await loader.app()).runApp(io.env);
      } catch (err) {
        throw new CliError(`app: ${(err as Error).message}`);
      }
      return EXIT_OK;
    }
    const spec = COMMANDS.find((c) => c.name === name);
    if (!spec) {
      throw new UsageError(name.startsWith('-') ? `unknown option ${name}` : `unknown command ${JSON.stringify(name)}${suggest(name)}`);
    }
    const input = parseCommandArgs(spec, rest);
    if (input.help) {
      out(commandHelp(spec));
      return EXIT_OK;
    }
    target = resolveAgentTarget(io.env, io.cwd ?? process.cwd());
    return await spec.run(makeContext(io, target), input);
  } catch (err) {
    if (err instanceof UsageError) {
      fail(`${err.message} (see vela-branch ${err.command ? `${err.command} ` : ''}--help)`);
      return EXIT_USAGE;
    }
    if (err instanceof AgentError) {
      fail(describeAgentError(err, target));
      for (const line of conflictLines(err)) io.stderr.write(`  ${line}\n`);
      return EXIT_ERROR;
    }
    if (err instanceof CliError) {
      fail(err.message);
      return EXIT_ERROR;
    }
    fail(`unexpected error: ${(err as Error)?.message ?? String(err)}`);
    return EXIT_ERROR;
  }
}

function makeContext(io: CliIo, target: AgentTarget): CommandContext {
  const now = io.now ?? Date.now;
  const clientOpts = { url: target.url, token: target.token, fetch: io.fetch };
  return {
    io,
    client: io.makeClient ? io.makeClient(clientOpts) : new AgentClient({ ...clientOpts, userAgent: `vela-branch-cli/${readVersion()}` }),
    agentUrl: target.url,
    now,
    print: (line) => io.stdout.write(`${line}\n`),
    progress: (text) => startProgress(io.stderr, text, now),
  };
}

/** One line that says what went wrong and, where it is the usual cause, what to do. */
export function describeAgentError(err: AgentError, target: AgentTarget | undefined): string {
  if (err.status === 0) {
    return `${err.message}; start one with \`vela-branch agent\` or point VELA_AGENT_URL at a running agent`;
  }
  if (err.status === 401 && target?.tokenSource === 'none') {
    return `${err.message} (no token: set VELA_TOKEN, or run from the directory holding .vela/admin-token)`;
  }
  if (err.status === 401) return `${err.message} (token from ${target?.tokenSource ?? 'VELA_TOKEN'} was rejected)`;
  return err.message;
}

/** Rebase conflicts travel in the error body; show them under the error line. */
function conflictLines(err: AgentError): string[] {
  const conflicts = rebaseConflictsOf(err);
  if (conflicts.length === 0) return [];
  const lines = conflicts.flatMap((c) => {
    const { headline, details } = describeRebaseConflict(c);
    return [`✗ ${headline}`, ...details.map((d) => `    ${d}`)];
  });
  return [...lines, 'the branch was left exactly as it was'];
}

function printHelpFor(topic: string | undefined, out: (text: string) => void): number {
  if (topic === undefined) {
    out(overviewHelp(COMMANDS));
    return EXIT_OK;
  }
  const spec = COMMANDS.find((c) => c.name === topic) ?? EXTERNAL_COMMANDS.find((c) => c.name === topic);
  if (!spec) throw new UsageError(`no help for unknown command ${JSON.stringify(topic)}${suggest(topic)}`);
  out(commandHelp(spec));
  return EXIT_OK;
}

function suggest(name: string): string {
  const close = closestName(name, [...COMMANDS.map((c) => c.name), ...EXTERNAL_COMMANDS.map((c) => c.name)]);
  return close ? `; did you mean ${close}?` : '';
}

function readVersion(): string {
  return VERSION;
}
