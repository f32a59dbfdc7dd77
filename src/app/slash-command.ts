import { AgentError } from '../core/client.ts';
import type { AgentClient } from '../core/client.ts';
import type { Branch } from '../core/api/index.ts';
import { formatDuration } from '../core/durations.ts';
import type { VelaCommand } from './commands.ts';
import type { AppConfig } from './config.ts';
import type { StickyView } from './comment.ts';
import { deleteIfPresent } from '../core/workflows/delete.ts';
import { BranchMismatchError, checkRepo } from '../core/workflows/ownership.ts';
import { branchTiming } from '../core/workflows/timing.ts';
import { branchNameFor, labelsFor, withoutCredentials } from './branch-ops.ts';
import type { PullFacts } from './branch-ops.ts';
import { helpText } from './replies.ts';
import { describeRebaseConflict, rebaseConflictsOf } from '../core/workflows/rebase-conflicts.ts';
import { GITHUB_COMMENT_LIMIT, renderDiffMarkdown } from '../core/workflows/diff-markdown.ts';

export interface SlashCommandResult {
  ok: boolean;
  /** Markdown answer for the reply comment (never credentials). */
  text: string;
  /** New content for the sticky comment, when the command changed or refreshed what it shows. */
  sticky?: StickyView;
  /** The agent did not answer: worth retrying on redelivery. */
  unreachable?: boolean;
}

export interface SlashCommandParams {
  command: VelaCommand;
  agent: AgentClient;
  config: AppConfig;
  pull: PullFacts;
  actor: string;
  now: Date;
}

/** Room the reply leaves for the diff under GitHub's comment limit (the reply adds a line or two). */
const DIFF_REPLY_CHARS = GITHUB_COMMENT_LIMIT - 2_000;

/** Runs one `/vela` command against the agent and describes the result. Agent errors become answers, not throws. */
export async function runSlashCommand(params: SlashCommandParams): Promise<SlashCommandResult> {
  const name = branchNameFor(params.pull);
  try {
    return await dispatch(params, name);
  } catch (err) {
    if (err instanceof BranchMismatchError) return { ok: false, text: err.message };
    if (!(err instanceof AgentError)) throw err;
    if (err.status === 0) {
      return { ok: false, unreachable: true, text: 'The vela agent is unreachable right now; try again in a minute.' };
    }
    if (err.status === 404 && params.command.name !== 'create') {
      return {
        ok: false,
        text: `This PR has no branch \`${name}\`. Comment \`/vela create\` to make one.`,
        sticky: { kind: 'missing', name },
      };
    }
    return { ok: false, text: `The vela agent refused: ${err.message}${conflictList(err)}` };
  }
}

async function dispatch(params: SlashCommandParams, name: string): Promise<SlashCommandResult> {
  const { agent, command, now } = params;
  // Commands that change or show the branch act only on this repository's (a hand-made branch of this name may not be).
  const ownBranch = async (doing: string) => {
    const branch = withoutCredentials(await agent.get(name));
    checkRepo(branch, params.pull.repoFullName, doing);
    return branch;
  };
  switch (command.name) {
    case 'help':
      return { ok: true, text: helpText() };
    case 'status': {
      const branch = await ownBranch('showing');
      return { ok: true, text: `\`${name}\` is **${branch.state}**${ttlNote(branch, now)}.`, sticky: { kind: 'branch', branch } };
    }
    case 'reset': {
      await ownBranch('resetting');
      const branch = withoutCredentials(await agent.reset(name));
      const took = branch.timings?.resetMs != null ? ` in ${formatDuration(branch.timings.resetMs)}` : '';
      return {
        ok: true,
        text: `Reset \`${name}\` to the current state of \`${branch.parent ?? 'its parent'}\`${took}. Connection strings stay valid.`,
        sticky: { kind: 'branch', branch },
      };
    }
    case 'rebase': {
      await ownBranch('rebasing');
      const branch = withoutCredentials(await agent.rebase(name));
      const took = branch.timings?.rebaseMs != null ? ` in ${formatDuration(branch.timings.rebaseMs)}` : '';
      return {
        ok: true,
        text: `Rebased \`${name}\` onto the current state of \`${branch.parent ?? 'its parent'}\`${took}: its own changes were replayed on top. Connection strings stay valid.`,
        sticky: { kind: 'branch', branch },
      };
    }
    case 'diff': {
      const branch = await ownBranch('diffing');
      const diff = await agent.diff(name);
      return {
        ok: true,
        text: renderDiffMarkdown(diff, { branch: name, collapsed: false, maxChars: DIFF_REPLY_CHARS }),
        sticky: { kind: 'branch', branch, diff },
      };
    }
    case 'destroy': {
      const outcome = await deleteIfPresent(agent, name, { repo: params.pull.repoFullName });
      if (outcome.absent) return { ok: true, text: `\`${name}\` did not exist; nothing to do.`, sticky: { kind: 'missing', name } };
      return {
        ok: true,
        text: `Deleted \`${name}\`.`,
        sticky: {
          kind: 'destroyed',
          name,
          reason: `Deleted by @${params.actor} with \`/vela destroy\`. Comment \`/vela create\` for a new one.`,
        },
      };
    }
    case 'create': {
      const parent = command.from ?? params.config.parent;
      const result = await agent.create({ name, parent, ttl: params.config.ttl, labels: labelsFor(params.pull), ifExists: 'return' });
      const branch = withoutCredentials(result.branch);
      if (!result.created) checkRepo(branch, params.pull.repoFullName, 'reusing');
      const text = result.created
        ? `Created \`${name}\` from \`${parent}\`.`
        : `\`${name}\` already exists (parent \`${branch.parent ?? '-'}\`); \`/vela destroy\` first to recreate it.`;
      return { ok: result.created || branch.parent === parent, text, sticky: { kind: 'branch', branch } };
    }
    case 'extend': {
      await ownBranch('extending');
      const branch = withoutCredentials(await agent.patch(name, { ttl: command.ttl }));
      return {
        ok: true,
        text: `Extended \`${name}\`: it now ${ttlNote(branch, now).replace(/^, /, '') || 'has no expiry'}.`,
        sticky: { kind: 'branch', branch },
      };
    }
  }
}

function ttlNote(branch: Branch, now: Date): string {
  const { ttlLeftMs, expired } = branchTiming(branch, now);
  if (ttlLeftMs === null) return '';
  return expired ? ', expired' : `, expires in ${formatDuration(ttlLeftMs)} (${branch.expiresAt})`;
}

/** A rebase's conflicts as a list under the refusal (tables, keys and rows, never credentials). */
function conflictList(err: AgentError): string {
  const conflicts = rebaseConflictsOf(err);
  if (conflicts.length === 0) return '';
  const shown = conflicts.slice(0, 10).flatMap((c) => {
    const { headline, details } = describeRebaseConflict(c);
    return [`- **${headline}**`, ...details.map((d) => `  - ${codeSpan(d)}`)];
  });
  const more = conflicts.length > 10 ? [`- … and ${conflicts.length - 10} more`] : [];
  return `\n\n${[...shown, ...more].join('\n')}\n\nThe branch was left exactly as it was.`;
}

/** Markdown inline code that survives backticks in the text. */
function codeSpan(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.includes('`') ? `\`\` ${flat} \`\`` : `\`${flat}\``;
}
