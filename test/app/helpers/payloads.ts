import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { EmitterWebhookEvent } from '@octokit/webhooks';

const require = createRequire(import.meta.url);
type Definition = { name: string; examples: Array<Record<string, any>> };
const definitions: Definition[] = require('@octokit/webhooks-examples');

const commentFixture = JSON.parse(
  readFileSync(new URL('../../fixtures/webhooks/issue_comment.created.pull-request.json', import.meta.url), 'utf8'),
) as Record<string, any>;

export const PR_NUMBER = 2; // the PR of the examples: Codertocat/Hello-World#2

/** A `pull_request` example payload (with an installation) from @octokit/webhooks-examples, deep-copied. */
export function pullRequestPayload(
  action: string,
  patch: { sha?: string; draft?: boolean; labels?: string[]; merged?: boolean; fork?: boolean } = {},
) {
  const def = definitions.find((d) => d.name === 'pull_request')!;
  const example = def.examples.find((e) => e.action === action && e.installation);
  if (!example) throw new Error(`no pull_request.${action} example with an installation`);
  const payload = structuredClone(example);
  if (patch.sha) payload.pull_request.head.sha = patch.sha;
  if (patch.draft !== undefined) payload.pull_request.draft = patch.draft;
  if (patch.merged !== undefined) payload.pull_request.merged = patch.merged;
  if (patch.fork) payload.pull_request.head.repo = { ...payload.pull_request.head.repo, full_name: 'mallory/Hello-World' };
  if (patch.labels) payload.pull_request.labels = patch.labels.map((name, i) => ({ id: i + 1, name, color: 'ededed', default: false }));
  return payload;
}

/** The recorded comment-on-a-PR payload with a new body and, optionally, another author. */
export function commentPayload(body: string, author: { login?: string; type?: string } = {}) {
  const payload = structuredClone(commentFixture);
  payload.comment.body = body;
  if (author.login) {
    payload.comment.user.login = author.login;
    payload.sender.login = author.login;
  }
  if (author.type) {
    payload.comment.user.type = author.type;
    payload.sender.type = author.type;
  }
  return payload;
}

let deliveries = 0;
export const newDeliveryId = () => `00000000-0000-4000-8000-${String(++deliveries).padStart(12, '0')}`;

export function event(name: 'pull_request' | 'issue_comment', payload: Record<string, any>, id = newDeliveryId()): EmitterWebhookEvent {
  return { id, name, payload } as EmitterWebhookEvent;
}
