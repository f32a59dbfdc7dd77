import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitHubClient } from '../../src/action/github/octokit.ts';
import { upsertStickyComment } from '../../src/action/github/sticky-comment.ts';
import { lockDownNetwork, releaseGitHubMocks } from '../helpers/github-mocks.ts';

const API = 'https://api.github.com';
const marker = '<!-- vela-branch:report:test -->';
const slept: number[] = [];
const client = (apiUrl = API) =>
  createGitHubClient({
    token: 'ghs_testtoken',
    apiUrl,
    fetch: globalThis.fetch,
    retry: { sleep: async (ms) => void slept.push(ms) },
  });
const params = { owner: 'acme', repo: 'shop', issueNumber: 12, marker, body: `${marker}\nnew body` };
const comment = (id: number, login: string, body: string) => ({
  id,
  body,
  user: { login, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
  html_url: `https://github.com/acme/shop/pull/12#issuecomment-${id}`,
});

beforeEach(() => {
  lockDownNetwork();
  slept.length = 0;
});
afterEach(() => {
  expect(releaseGitHubMocks()).toEqual([]);
});

describe('upsertStickyComment', () => {
  it('creates the comment when none carries the marker (GITHUB_TOKEN: GET /user is 403)', async () => {
    let created: unknown;
    nock(API)
      .get('/user')
      .reply(403, { message: 'Resource not accessible by integration' })
      .get('/repos/acme/shop/issues/12/comments')
      .query({ per_page: 100 })
      .reply(200, [comment(1, 'ada', 'LGTM'), comment(2, 'github-actions[bot]', 'another bot comment')])
      .post('/repos/acme/shop/issues/12/comments', (b) => ((created = b), true))
      .reply(201, comment(3, 'github-actions[bot]', params.body));
    const res = await upsertStickyComment(client(), params);
    expect(res).toEqual({ action: 'created', id: 3, url: 'https://github.com/acme/shop/pull/12#issuecomment-3' });
    expect(created).toEqual({ body: params.body });
  });

  it('updates our own marked comment in place, found on the second page, ignoring a user quoting the marker', async () => {
    let patched: unknown;
    nock(API)
      .get('/user')
      .reply(403, { message: 'Resource not accessible by integration' })
      .get('/repos/acme/shop/issues/12/comments')
      .query({ per_page: 100 })
      .reply(200, [comment(10, 'mallory', `quoting ${marker}`)], {
        link: `<${API}/repositories/1/issues/12/comments?per_page=100&page=2>; rel="next", <${API}/repositories/1/issues/12/comments?per_page=100&page=2>; rel="last"`,
      })
      .get('/repositories/1/issues/12/comments')
      .query({ per_page: 100, page: 2 })
      .reply(200, [comment(20, 'github-actions[bot]', `${marker}\nold body`), comment(21, 'ada', 'thanks')])
      .patch('/repos/acme/shop/issues/comments/20', (b) => ((patched = b), true))
      .reply(200, comment(20, 'github-actions[bot]', params.body));
    const res = await upsertStickyComment(client(), params);
    expect(res.action).toBe('updated');
    expect(res.id).toBe(20);
    expect(patched).toEqual({ body: params.body });
  });

  it('matches the author of a personal access token via GET /user, on a GHES base URL', async () => {
    const GHES = 'https://ghe.acme.internal/api/v3';
    nock(GHES)
      .get('/user')
      .reply(200, { login: 'ci-robot' })
      .get('/repos/acme/shop/issues/12/comments')
      .query({ per_page: 100 })
      .reply(200, [comment(5, 'github-actions[bot]', `${marker}\nnot ours`), comment(6, 'ci-robot', `${marker}\nours`)])
      .patch('/repos/acme/shop/issues/comments/6')
      .reply(200, comment(6, 'ci-robot', params.body));
    const res = await upsertStickyComment(client(GHES), params);
    expect(res).toMatchObject({ action: 'updated', id: 6 });
  });

  it('waits out a 429 with retry-after and a secondary-limit 403, then succeeds', async () => {
    nock(API)
      .get('/user')
      .reply(403, { message: 'Resource not accessible by integration' })
      .get('/repos/acme/shop/issues/12/comments')
      .query({ per_page: 100 })
      .reply(429, { message: 'slow down' }, { 'retry-after': '3' })
      .get('/repos/acme/shop/issues/12/comments')
      .query({ per_page: 100 })
      .reply(200, [])
      .post('/repos/acme/shop/issues/12/comments')
      .reply(403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' })
      .post('/repos/acme/shop/issues/12/comments')
      .reply(201, comment(7, 'github-actions[bot]', params.body));
    const res = await upsertStickyComment(client(), params);
    expect(res).toMatchObject({ action: 'created', id: 7 });
    expect(slept).toEqual([3_000, 60_000]);
  });
});
