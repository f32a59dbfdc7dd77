import { expect } from 'vitest';
import type { Probot } from 'probot';
import { AgentClient } from '../../../src/core/client.ts';
import type { RebaseConflict } from '../../../src/core/api/index.ts';
import { createApp, TaskTracker } from '../../../src/app/index.ts';
import { FakeAgent } from '../../helpers/fake-agent.ts';
import { releaseGitHubMocks } from '../../helpers/github-mocks.ts';
import { FakeGitHub } from './fake-github.ts';
import { testProbot } from './probot.ts';

export const AGENT_TOKEN = 'test-agent-token';
export const NOW = new Date('2030-01-02T03:04:05.000Z');

export interface Harness {
  probot: Probot;
  github: FakeGitHub;
  agent: FakeAgent;
  client: AgentClient;
  tasks: TaskTracker;
  /** Errors the background work threw (should stay empty). */
  errors: unknown[];
  appFn: (app: Probot) => void;
  close(): Promise<void>;
}

/** A Probot with the app loaded against a fake agent and nock'd GitHub; every piece is fresh per test. */
export interface HarnessOptions {
  /** Point the app at this agent instead of the in-memory fake (which is then not started). */
  agentUrl?: string;
  agentToken?: string;
  appSlug?: string;
  /** false: leave loading the app to the caller (e.g. createNodeMiddleware). */
  load?: boolean;
}

/** What the fake agent answers a rebase with: one conflict, as the real agent shapes it. */
export const USERS_CONFLICT: RebaseConflict = {
  kind: 'row_changed',
  table: 'public.users',
  key: { id: '7' },
  statement: "UPDATE public.users SET email = 'new@example.com' WHERE id = '7'",
  current: { id: '7', email: 'changed@example.com' },
  message: 'the branch updated a row the parent changed since the fork',
  seq: 3,
};

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const agent = new FakeAgent({ tokens: [AGENT_TOKEN], now: () => NOW, rebaseConflicts: [USERS_CONFLICT] });
  const url = opts.agentUrl ?? (await agent.start()).url;
  const client = new AgentClient({ url, token: opts.agentToken ?? AGENT_TOKEN, timeoutMs: 60_000 });
  const errors: unknown[] = [];
  const tasks = new TaskTracker((err) => errors.push(err));
  const probot = testProbot();
  const appFn = createApp({ agent: client, clock: () => NOW, tasks, appSlug: opts.appSlug, wait: { pollMs: 20, timeoutMs: 60_000 } });
  if (opts.load !== false) await probot.load(appFn);
  return {
    probot,
    github: new FakeGitHub(),
    agent,
    client,
    tasks,
    errors,
    appFn,
    close: () => agent.stop(),
  };
}

/** After each test: every GitHub mock was used, then all are cleared. */
export function checkMocksUsed(): void {
  expect(releaseGitHubMocks()).toEqual([]);
}

/** After each test with a harness: close it, no background task failed, every GitHub mock was used. */
export async function closeAndCheck(h: Harness | undefined): Promise<void> {
  await h?.close();
  const pending = releaseGitHubMocks();
  expect(h?.errors).toEqual([]);
  expect(pending).toEqual([]);
}
