/** Wrong invocation (unknown command or flag, bad value): exit code 2. `command` points the hint at its --help. */
export class UsageError extends Error {
  readonly command?: string;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A failure the user can act on, detected by the CLI itself (not the agent): exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
