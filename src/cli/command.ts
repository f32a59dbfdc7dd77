import type { ParseArgsOptionsConfig } from 'node:util';
import type { AgentClient } from '../core/client.ts';
import type { CliIo } from './io.ts';
import type { Progress } from './progress.ts';

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What a command receives after main() has parsed and checked its argv. */
export interface ParsedInput {
  /** Positional arguments (before any `--`). */
  args: string[];
  /** Arguments after `--`, for commands that pass them on (psql). */
  rest: string[];
  values: OptionValues;
}

export interface CommandContext {
  io: CliIo;
  client: AgentClient;
  agentUrl: string;
  now(): number;
  /** One line of result on stdout. */
  print(line: string): void;
  /** Starts a spinner (TTY) or prints one progress line (otherwise) on stderr. */
  progress(text: string): Progress;
}

/** One subcommand: its help text, its flags, and the work it does. */
export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  description?: string;
  options: ParseArgsOptionsConfig;
  /** One line of help per option, in order. */
  optionHelp?: [string, string][];
  positionals: { min: number; max: number };
  /** Accepts `-- args...` and hands them over in `rest`. */
  passthrough?: boolean;
  examples: string[];
  run(ctx: CommandContext, input: ParsedInput): Promise<number>;
}
