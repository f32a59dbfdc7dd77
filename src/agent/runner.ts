import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this OS user (the agent is root and postgres refuses root). */
  uid?: number;
  gid?: number;
  input?: string;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Sees stdout and stderr as they arrive (progress of long commands). */
  onOutput?: (chunk: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The one seam every shell-out goes through: argv arrays only, never a shell string. */
export type Runner = (argv: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export class CommandNotFoundError extends Error {
  readonly command: string;
  constructor(command: string) {
    super(`command not found: ${command}`);
    this.name = 'CommandNotFoundError';
    this.command = command;
  }
}

export class CommandFailedError extends Error {
  readonly argv: readonly string[];
  readonly code: number;
  readonly stderr: string;
  constructor(argv: readonly string[], code: number, stderr: string) {
    super(`${argv[0]} ${argv[1] ?? ''} exited with ${code}: ${lastLines(stderr, 3)}`);
    this.name = 'CommandFailedError';
    this.argv = argv;
    this.code = code;
    this.stderr = stderr;
  }
}

export function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ').slice(0, 600);
}

const MAX_OUTPUT = 8 * 1024 * 1024;

/** The Runner that spawns real child processes. */
export const processRunner: Runner = (argv, opts = {}) =>
  new Promise((resolve, reject) => {
    if (argv.length === 0) return reject(new Error('runner: empty argv'));
    const child = spawn(argv[0], argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString();
      opts.onOutput?.(d.toString());
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new CommandNotFoundError(argv[0]));
      else reject(err);
    });
    child.on('close', (code, signal) => {
      const exit = code ?? (signal ? 128 : 1);
      if (exit !== 0 && !opts.allowFailure) reject(new CommandFailedError(argv, exit, stderr || stdout));
      else resolve({ code: exit, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
