import type { Probot } from 'probot';

/**
 * The app's own login (`<slug>[bot]`): the author of its sticky comments and replies.
 * Looked up once with the app's JWT (`GET /app`) unless configured; a failed lookup is retried next time.
 */
export function botLoginResolver(app: Pick<Probot, 'auth'>, slug?: string): () => Promise<string> {
  if (slug) {
    const login = `${slug}[bot]`;
    return async () => login;
  }
  let pending: Promise<string> | null = null;
  return () => {
    pending ??= (async () => {
      const octokit = await app.auth();
      const { data } = await octokit.rest.apps.getAuthenticated();
      if (!data?.slug) throw new Error('GET /app returned no slug');
      return `${data.slug}[bot]`;
    })().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };
}

export function isBotAccount(user: { login?: string; type?: string } | null | undefined): boolean {
  if (!user) return false;
  return user.type === 'Bot' || (user.login ?? '').endsWith('[bot]');
}
