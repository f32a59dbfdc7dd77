import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDataDirFor } from '../agent/data-dir.ts';
import { UsageError } from './errors.ts';

export const DEFAULT_AGENT_URL = 'http://127.0.0.1:7070';
/** Where `vela-branch agent` writes its generated admin token with the default data dir. */
export const LOCAL_ADMIN_TOKEN_FILE = join('.vela', 'admin-token');

export interface AgentTarget {
  url: string;
  token?: string;
  tokenSource: 'VELA_TOKEN' | 'admin-token file' | 'none';
}

/**
 * The agent to talk to: VELA_AGENT_URL (default local), token from VELA_TOKEN, else the local
 * agent's ./.vela/admin-token (or where a root agent put that data dir: sharedDataDirFor) so
 * `vela-branch list` works right after `vela-branch agent`.
 */
export function resolveAgentTarget(env: Record<string, string | undefined>, cwd: string): AgentTarget {
  const url = env.VELA_AGENT_URL?.trim() || DEFAULT_AGENT_URL;
  if (!/^https?:\/\/[^\s/]+/i.test(url)) {
    throw new UsageError(`VELA_AGENT_URL must be an http(s) URL such as ${DEFAULT_AGENT_URL}, got ${JSON.stringify(url.slice(0, 100))}`);
  }
  const envToken = env.VELA_TOKEN?.trim();
  if (envToken) return { url, token: envToken, tokenSource: 'VELA_TOKEN' };
  const fileToken =
    readTokenFile(join(cwd, LOCAL_ADMIN_TOKEN_FILE)) ?? readTokenFile(join(sharedDataDirFor(join(cwd, '.vela')), 'admin-token'));
  if (fileToken) return { url, token: fileToken, tokenSource: 'admin-token file' };
  return { url, tokenSource: 'none' };
}

function readTokenFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    // Missing or unreadable: carry on without a token; the agent's 401 says what is needed.
    return undefined;
  }
}
