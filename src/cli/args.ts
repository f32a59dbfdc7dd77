import { parseArgs } from 'node:util';
import { branchNameProblem } from '../core/names.ts';
import type { CommandSpec, OptionValues, ParsedInput } from './command.ts';
import { UsageError } from './errors.ts';

/** Parses a command's argv with node:util parseArgs and turns its errors into short usage messages. */
export function parseCommandArgs(spec: CommandSpec, argv: string[]): ParsedInput & { help: boolean } {
  const cut = spec.passthrough ? argv.indexOf('--') : -1;
  const own = cut >= 0 ? argv.slice(0, cut) : argv;
  const rest = cut >= 0 ? argv.slice(cut + 1) : [];
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the spec is only known at run time
    parsed = parseArgs({
      args: own,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as { values: OptionValues; positionals: string[] };
  } catch (err) {
    throw new UsageError(describeParseError(err as Error & { code?: string }, spec), spec.name);
  }
  const help = parsed.values.help === true;
  if (!help) checkPositionals(spec, parsed.positionals);
  return { args: parsed.positionals, rest, values: parsed.values, help };
}

function describeParseError(err: Error & { code?: string }, spec: CommandSpec): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1]?.split(' ')[0];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return spec.passthrough
        ? `unknown option ${quoted} for ${spec.name} (put ${spec.name}'s own arguments after --)`
        : `unknown option ${quoted} for ${spec.name}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `option ${quoted} of ${spec.name} needs a value`;
    default:
      return `${spec.name}: ${err.message}`;
  }
}

function checkPositionals(spec: CommandSpec, positionals: string[]): void {
  const { min, max } = spec.positionals;
  if (positionals.length < min) {
    throw new UsageError(`${spec.name} needs ${spec.usage.replace(/^\S+\s*/, '')}`, spec.name);
  }
  if (positionals.length > max) {
    const extra = positionals.slice(max).join(' ');
    throw new UsageError(`unexpected argument${positionals.length - max > 1 ? 's' : ''} for ${spec.name}: ${extra}`, spec.name);
  }
}

/** The branch name argument, checked client-side with the same rule the agent applies. */
export function branchArg(value: string | undefined, command: string): string {
  const problem = branchNameProblem(value);
  if (problem) throw new UsageError(problem, command);
  return value as string;
}

export function stringOption(values: OptionValues, key: string): string | undefined {
  const value = values[key];
  return typeof value === 'string' ? value : undefined;
}

export function stringsOption(values: OptionValues, key: string): string[] {
  const value = values[key];
  if (Array.isArray(value)) return value.filter((x): x is string => typeof x === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function flagOption(values: OptionValues, key: string): boolean {
  return values[key] === true;
}
