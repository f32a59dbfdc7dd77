import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A runner-like environment for one event, with its payload written to GITHUB_EVENT_PATH. */
export function githubEnv(
  event: 'pull_request' | 'push' | 'schedule',
  opts: { pr?: number; fork?: boolean; actor?: string; apiUrl?: string; extra?: Record<string, string> } = {},
): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vela-action-event-'));
  const payload =
    event === 'pull_request'
      ? {
          action: 'synchronize',
          number: opts.pr ?? 12,
          pull_request: {
            number: opts.pr ?? 12,
            head: { sha: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', repo: { full_name: opts.fork ? 'mallory/shop' : 'acme/shop' } },
            base: { sha: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', repo: { full_name: 'acme/shop' } },
          },
          repository: { full_name: 'acme/shop', name: 'shop', owner: { login: 'acme' } },
        }
      : { ref: 'refs/heads/main', repository: { full_name: 'acme/shop', name: 'shop', owner: { login: 'acme' } } };
  const path = join(dir, 'event.json');
  writeFileSync(path, JSON.stringify(payload));
  return {
    GITHUB_EVENT_NAME: event,
    GITHUB_EVENT_PATH: path,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'cccccccccccccccccccccccccccccccccccccccc',
    GITHUB_ACTOR: opts.actor ?? 'ada',
    GITHUB_RUN_ID: '4567',
    GITHUB_RUN_ATTEMPT: '2',
    GITHUB_JOB: 'test',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: opts.apiUrl ?? 'https://api.github.com',
    ...opts.extra,
  };
}
