import type { Probot } from 'probot';
import { buildDeps } from './deps.ts';
import type { AppOptions } from './deps.ts';
import { ENSURE_ACTIONS, onPullRequestActive, onPullRequestClosed } from './handlers/pull-request.ts';
import { onIssueComment } from './handlers/issue-comment.ts';

export type { AppOptions } from './deps.ts';
export { TaskTracker } from './tasks.ts';

/** The Probot app function: registers the handlers and nothing else. */
export function createApp(options: AppOptions): (app: Probot) => void {
  return (app: Probot) => {
    const deps = buildDeps(app, options);
    app.on([...ENSURE_ACTIONS], onPullRequestActive(deps));
    app.on('pull_request.closed', onPullRequestClosed(deps));
    app.on('issue_comment.created', onIssueComment(deps));
  };
}
