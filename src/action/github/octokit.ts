import { getOctokit } from '@actions/github';
import { withRetry, type RetryPolicy } from './retry.ts';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface GitHubClientOptions {
  token: string;
  /** GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on GitHub Enterprise Server. */
  apiUrl: string;
  /**
   * Passed explicitly: @actions/github's default is undici's own fetch, which nock cannot see,
   * and its base URL is frozen at import time.
   */
  fetch: typeof fetch;
  retry?: Partial<RetryPolicy>;
}

export function createGitHubClient(opts: GitHubClientOptions): GitHubClient {
  const octokit = getOctokit(opts.token, {
    baseUrl: opts.apiUrl,
    userAgent: 'vela-branch-action',
    request: { fetch: opts.fetch },
  });
  const policy: RetryPolicy = {
    maxRetries: 3,
    maxWaitMs: 5 * 60_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
    ...opts.retry,
  };
  octokit.hook.wrap('request', (request, options) => withRetry(async () => request(options), policy));
  return octokit;
}
