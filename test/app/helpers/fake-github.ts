import nock from 'nock';

export const API = 'https://api.github.com';
export const OWNER = 'Codertocat';
export const REPO = 'Hello-World';
export const INSTALLATION_ID = 1; // the installation id in @octokit/webhooks-examples payloads
export const APP_SLUG = 'vela-branch-test';
export const BOT_LOGIN = `${APP_SLUG}[bot]`;

/** nock 15 hands reply functions the fetch Request; paths are matched against its path and query. */
const pathOf = (req: Request) => {
  const url = new URL(req.url);
  return url.pathname + url.search;
};

export interface StoredComment {
  id: number;
  issue: number;
  body: string;
  user: { login: string; type: string };
}

/**
 * GitHub's REST API as nock interceptors with a little state (comments, reactions), so tests can
 * assert what the app left on the PR. Each `mock…` registers only what a test needs: every
 * registered interceptor must be hit (nock.pendingMocks() is checked after each test).
 */
export class FakeGitHub {
  readonly comments: StoredComment[] = [];
  readonly reactions: Array<{ commentId: number; content: string }> = [];
  readonly permissionChecks: string[] = [];
  commentWrites = 0;
  private nextId = 9000;
  private readonly repoPath = `/repos/${OWNER}/${REPO}`;

  /** Installation token exchange (Probot caches the token per installation). */
  mockInstallationToken(): this {
    nock(API)
      .persist()
      .post(`/app/installations/${INSTALLATION_ID}/access_tokens`)
      .reply(201, { token: 'ghs_test_installation_token', expires_at: '2999-01-01T00:00:00Z', permissions: {} });
    return this;
  }

  /** `GET /app` with the app's JWT: tells the app its own slug. */
  mockApp(): this {
    nock(API).get('/app').reply(200, { id: 1, slug: APP_SLUG, name: 'vela-branch (test)' });
    return this;
  }

  /** `.github/vela.yml` on the default branch; null: no file in the repo nor in the owner's `.github` repo. */
  mockConfig(yamlText: string | null): this {
    const scope = nock(API).persist();
    if (yamlText === null) {
      scope.get(`${this.repoPath}/contents/.github%2Fvela.yml`).reply(404, { message: 'Not Found' });
      nock(API).persist().get(`/repos/${OWNER}/.github/contents/.github%2Fvela.yml`).reply(404, { message: 'Not Found' });
    } else {
      scope
        .get(`${this.repoPath}/contents/.github%2Fvela.yml`)
        .reply(200, yamlText, { 'content-type': 'application/vnd.github.raw; charset=utf-8' });
    }
    return this;
  }

  /** List, create and (unless `edit: false`) edit issue comments, backed by `this.comments`. */
  mockComments(opts: { list?: boolean; edit?: boolean } = {}): this {
    const listPath = new RegExp(`^${this.repoPath}/issues/(\\d+)/comments(\\?.*)?$`);
    if (opts.list !== false) {
      nock(API)
        .persist()
        .get(listPath)
        .reply((req: Request) => {
          const issue = Number(pathOf(req).match(listPath)![1]);
          return [200, this.comments.filter((c) => c.issue === issue)] as const;
        });
    }
    nock(API)
      .persist()
      .post(listPath)
      .reply(async (req: Request) => {
        const issue = Number(pathOf(req).match(listPath)![1]);
        const { body } = (await req.json()) as { body: string };
        const comment: StoredComment = { id: this.nextId++, issue, body, user: { login: BOT_LOGIN, type: 'Bot' } };
        this.comments.push(comment);
        this.commentWrites++;
        return [201, comment] as const;
      });
    if (opts.edit === false) return this;
    const editPath = new RegExp(`^${this.repoPath}/issues/comments/(\\d+)$`);
    nock(API)
      .persist()
      .patch(editPath)
      .reply(async (req: Request) => {
        const comment = this.comments.find((c) => c.id === Number(pathOf(req).match(editPath)![1]));
        if (!comment) return [404, { message: 'Not Found' }] as const;
        comment.body = ((await req.json()) as { body: string }).body;
        this.commentWrites++;
        return [200, comment] as const;
      });
    return this;
  }

  /** Adds a comment written by someone else (a human, or a copy-cat bot). */
  addForeignComment(issue: number, body: string, login: string, type = 'User'): StoredComment {
    const comment = { id: this.nextId++, issue, body, user: { login, type } };
    this.comments.push(comment);
    return comment;
  }

  mockReactions(): this {
    const path = new RegExp(`^${this.repoPath}/issues/comments/(\\d+)/reactions$`);
    nock(API)
      .persist()
      .post(path)
      .reply(async (req: Request) => {
        const { content } = (await req.json()) as { content: string };
        const reaction = { commentId: Number(pathOf(req).match(path)![1]), content };
        this.reactions.push(reaction);
        return [201, { id: this.reactions.length, content: reaction.content }] as const;
      });
    return this;
  }

  /** `GET /repos/{owner}/{repo}/collaborators/{username}/permission`. */
  mockPermission(username: string, roleName: string): this {
    const permission = roleName === 'maintain' ? 'write' : roleName === 'triage' ? 'read' : roleName;
    nock(API)
      .persist()
      .get(`${this.repoPath}/collaborators/${username}/permission`)
      .reply(() => {
        this.permissionChecks.push(username);
        return [200, { permission, role_name: roleName, user: { login: username } }] as const;
      });
    return this;
  }

  stickyComments(issue: number): StoredComment[] {
    return this.comments.filter((c) => c.issue === issue && c.user.login === BOT_LOGIN && c.body.includes('<!-- vela-branch:app -->'));
  }

  replies(issue: number): StoredComment[] {
    return this.comments.filter((c) => c.issue === issue && c.user.login === BOT_LOGIN && !c.body.includes('<!-- vela-branch:app -->'));
  }
}
