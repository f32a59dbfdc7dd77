import type { AgentClient } from '../core/client.ts';

/** The part of a stream the CLI writes to; `isTTY` decides between a spinner and a plain line. */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** Runs a program attached to the terminal and resolves with its exit code. */
export type SpawnFn = (command: string, args: string[], env: Record<string, string | undefined>) => Promise<number>;

/** Loads the modules that live outside the client commands (the agent server and the Probot app). */
export interface ModuleLoader {
  agent(): Promise<{ runAgentCommand(argv: string[]): Promise<number> }>;
  app(): Promise<{ runApp(env?: NodeJS.ProcessEnv): Promise<unknown> }>;
}

/** Everything the CLI touches outside itself, so tests can drive `main()` with fakes. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  cwd?: string;
  now?: () => number;
  fetch?: typeof fetch;
  spawn?: SpawnFn;
  load?: ModuleLoader;
  /** Builds the agent client; tests may replace it. */
  makeClient?: (opts: { url: string; token?: string; fetch?: typeof fetch }) => AgentClient;
}
