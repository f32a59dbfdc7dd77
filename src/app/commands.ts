import { parseDuration, DURATION_RULE } from '../core/durations.ts';
import { branchNameProblem } from '../core/names.ts';

export type VelaCommand =
  | { name: 'status' }
  | { name: 'reset' }
  | { name: 'rebase' }
  | { name: 'diff' }
  | { name: 'destroy' }
  | { name: 'help' }
  | { name: 'create'; from?: string }
  | { name: 'extend'; ttl: string };

export type ParsedComment =
  /** The comment isn't addressed to vela at all. */
  | { kind: 'none' }
  | { kind: 'command'; command: VelaCommand; line: string }
  /** Addressed to vela but not understood: answer with help and the reason. */
  | { kind: 'invalid'; reason: string; line: string };

const PREFIX = /^\/vela(?:\s+|$)/;
const NO_ARGS = new Set(['status', 'reset', 'rebase', 'diff', 'destroy', 'help']);

export const COMMAND_SUMMARY: ReadonlyArray<[string, string]> = [
  ['/vela status', 'show the branch of this PR'],
  ['/vela reset', "throw away the branch's changes: back to the parent's current state"],
  ['/vela rebase', "move the branch onto the parent's current state, keeping its own changes"],
  ['/vela diff', 'schema diff and rows changed since the fork, against the parent'],
  ['/vela destroy', 'delete the branch now'],
  ['/vela create [--from PARENT]', 'create the branch (from another parent if given)'],
  ['/vela extend DURATION', 'set the time to live, e.g. `/vela extend 2d`'],
  ['/vela help', 'this list'],
];

/** Reads a slash-command from the first line of a comment; everything after that line is ignored. */
export function parseComment(body: string | null | undefined): ParsedComment {
  const line = (body ?? '').split(/\r?\n/, 1)[0].trim();
  if (!PREFIX.test(line)) return { kind: 'none' };
  const words = line.split(/\s+/).slice(1);
  const [verb, ...args] = words;
  const invalid = (reason: string): ParsedComment => ({ kind: 'invalid', reason, line });

  if (verb === undefined) return { kind: 'command', command: { name: 'help' }, line };
  if (NO_ARGS.has(verb)) {
    if (args.length > 0) return invalid(`\`${verb}\` takes no arguments`);
    return { kind: 'command', command: { name: verb } as VelaCommand, line };
  }
  if (verb === 'extend') {
    if (args.length !== 1) return invalid('`extend` takes exactly one duration, e.g. `/vela extend 2d`');
    if (parseDuration(args[0]) === null) return invalid(DURATION_RULE);
    return { kind: 'command', command: { name: 'extend', ttl: args[0] }, line };
  }
  if (verb === 'create') {
    if (args.length === 0) return { kind: 'command', command: { name: 'create' }, line };
    if (args.length !== 2 || args[0] !== '--from') return invalid('usage: `/vela create [--from PARENT]`');
    const problem = branchNameProblem(args[1]);
    if (problem) return invalid(problem);
    return { kind: 'command', command: { name: 'create', from: args[1] }, line };
  }
  return invalid(`unknown command \`${verb.replace(/`/g, '').slice(0, 40)}\``);
}
