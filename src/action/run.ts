import * as actionsCore from '@actions/core';
import { AgentClient } from '../core/client.ts';
import type { ConnectionInfo } from '../core/api/index.ts';
import { branchLabels } from '../core/workflows/branch-names.ts';
import { deleteIfPresent } from '../core/workflows/delete.ts';
import { ensureBranch, type EnsureParams } from '../core/workflows/ensure.ts';
import { requireConnection, type WaitOptions } from '../core/workflows/ready.ts';
import { hasAgentCredentials, resolveAgentToken } from './auth.ts';
import { createBranch } from './commands/create.ts';
import { rebaseBranch } from './commands/rebase.ts';
import { reportResults } from './commands/report.ts';
import { postDiff } from './commands/diff.ts';
import { resetBranch } from './commands/reset.ts';
import { readRunContext, runOrigin, type RunContext } from './context.ts';
import type { ActionsCore } from './core.ts';
import { createGitHubClient } from './github/octokit.ts';
import type { RetryPolicy } from './github/retry.ts';
import { readInputs, type ActionInputs } from './inputs.ts';
import { connectionSecrets, stripSecrets } from './secrets.ts';

export interface RunDeps {
  core: ActionsCore;
  env: NodeJS.ProcessEnv;
  fetch: typeof fetch;
  now: () => Date;
  cwd: string;
  wait?: WaitOptions;
  githubRetry?: Partial<RetryPolicy>;
}

/** State handed from the main step to the post step (GITHUB_STATE); never secrets. */
export const STATE = { branch: 'vela-branch', created: 'vela-created' } as const;

function withDefaults(overrides: Partial<RunDeps>): RunDeps {
  return {
    core: actionsCore,
    env: process.env,
    fetch: globalThis.fetch,
    now: () => new Date(),
    cwd: process.cwd(),
    ...overrides,
  };
}

/** Registers values with the runner's log masking and remembers them for redacting error messages. */
class Masker {
  readonly secrets = new Set<string>();
  private readonly core: ActionsCore;
  constructor(core: ActionsCore) {
    this.core = core;
  }
  mask(...values: (string | null | undefined)[]): void {
    for (const value of values) {
      if (!value || this.secrets.has(value)) continue;
      this.secrets.add(value);
      this.core.setSecret(value);
    }
  }
}

async function agentClient(inputs: ActionInputs, deps: RunDeps, masker: Masker): Promise<AgentClient> {
  const token = await resolveAgentToken(inputs, deps.env, (aud) => deps.core.getIDToken(aud));
  masker.mask(token);
  return new AgentClient({ url: inputs.agentUrl!, token, fetch: deps.fetch, userAgent: 'vela-branch-action' });
}

/** Fork PRs and Dependabot runs get no secrets and no OIDC token: skip cleanly instead of failing obscurely. */
function skipReason(ctx: RunContext): string | null {
  if (ctx.isFork) return 'this pull request comes from a fork, and GitHub gives fork workflows no secrets or OIDC token';
  if (ctx.isDependabot) return 'Dependabot runs get no Actions secrets (add the token as a Dependabot secret to enable it)';
  return null;
}

/** Masks every form of the secrets first, then hands the connection to later steps. */
function publishConnection(
  core: ActionsCore,
  masker: Masker,
  inputs: ActionInputs,
  result: { connection: ConnectionInfo; created: boolean; branchName: string },
): void {
  const conn = result.connection;
  masker.mask(...connectionSecrets(conn));
  core.setOutput('branch', result.branchName);
  core.setOutput('created', String(result.created));
  core.setOutput('connection-string', conn.uri);
  core.setOutput('host', conn.host);
  core.setOutput('port', String(conn.port));
  core.setOutput('database', conn.database);
  core.setOutput('user', conn.user);
  core.setOutput('password', conn.password);
  core.setOutput('skipped', 'false');
  core.exportVariable(inputs.envVar, conn.uri);
  core.exportVariable('PGHOST', conn.host);
  core.exportVariable('PGPORT', String(conn.port));
  core.exportVariable('PGUSER', conn.user);
  core.exportVariable('PGPASSWORD', conn.password);
  core.exportVariable('PGDATABASE', conn.database);
}

async function runCommandInput(inputs: ActionInputs, ctx: RunContext, deps: RunDeps, masker: Masker): Promise<void> {
  const { core } = deps;
  const canAuth = hasAgentCredentials(inputs, deps.env);

  if (inputs.command === 'report') {
    const agent = inputs.agentUrl && canAuth ? await agentClient(inputs, deps, masker) : null;
    const github = inputs.githubToken
      ? createGitHubClient({ token: inputs.githubToken, apiUrl: ctx.apiUrl, fetch: deps.fetch, retry: deps.githubRetry })
      : null;
    const res = await reportResults(
      {
        pattern: inputs.junit!,
        branch: inputs.branch,
        maxFailures: inputs.maxFailures,
        key: inputs.reportKey,
        run: { url: ctx.runUrl, id: ctx.runId, attempt: ctx.runAttempt, job: ctx.job },
        pr: ctx.prNumber !== null ? { owner: ctx.owner, repo: ctx.repo, number: ctx.prNumber } : null,
        comment: inputs.comment,
        readOnlyToken: ctx.isFork,
        now: deps.now(),
        cwd: deps.cwd,
        // An earlier ensure step exported these; test output that echoes them must not reach the PR.
        secrets: connectionSecrets({ password: deps.env.PGPASSWORD ?? '', uri: deps.env[inputs.envVar] ?? '' }),
        diff: inputs.diff ? { rows: inputs.diffRows } : null,
      },
      { agent, github },
    );
    for (const warning of res.warnings) core.warning(warning);
    await core.summary.addRaw(res.markdown, true).write();
    const totals = res.totals;
    core.info(`${res.files.length} JUnit file(s): ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
    if (res.comment) core.info(`PR comment ${res.comment.action}: ${res.comment.url}`);
    else if (res.commentSkipped) core.notice(`No PR comment: ${res.commentSkipped}.`);
    core.setOutput('branch', inputs.branch);
    return;
  }

  if (!canAuth) {
    const reason = skipReason(ctx);
    if (reason) {
      core.notice(
        `vela-branch skipped: ${reason}. Later steps get no ${inputs.envVar}; guard them with \`if: steps.<id>.outputs.skipped != 'true'\`.`,
      );
      core.setOutput('branch', inputs.branch);
      core.setOutput('skipped', 'true');
      return;
    }
  }
  const client = await agentClient(inputs, deps, masker);
  const name = inputs.branch;

  switch (inputs.command) {
    case 'ensure':
    case 'create': {
      const params: EnsureParams = {
        name,
        parent: inputs.parent,
        ttl: inputs.ttl,
        labels: branchLabels(runOrigin(ctx)),
        wait: deps.wait,
      };
      const res = inputs.command === 'ensure' ? await ensureBranch(client, params) : await createBranch(client, params);
      const conn = requireConnection(res.branch);
      publishConnection(core, masker, inputs, { connection: conn, created: res.created, branchName: name });
      core.saveState(STATE.branch, name);
      core.saveState(STATE.created, String(res.created));
      core.info(
        `Branch ${name} ${res.created ? `created from ${res.branch.parent ?? 'main'}` : 'already existed: reusing it'}; ` +
          `${conn.host}:${conn.port}/${conn.database} as ${conn.user}, exported as ${inputs.envVar} and PG*`,
      );
      return;
    }
    case 'reset':
    case 'rebase': {
      const branch =
        inputs.command === 'reset'
          ? await resetBranch(client, { name, wait: deps.wait })
          : await rebaseBranch(client, { name, wait: deps.wait });
      publishConnection(core, masker, inputs, { connection: requireConnection(branch), created: false, branchName: name });
      core.info(
        `Branch ${name} ${inputs.command === 'reset' ? 'reset to' : 'rebased onto'} the current state of ${branch.parent ?? 'its parent'}`,
      );
      return;
    }
    case 'diff': {
      const github = inputs.githubToken
        ? createGitHubClient({ token: inputs.githubToken, apiUrl: ctx.apiUrl, fetch: deps.fetch, retry: deps.githubRetry })
        : null;
      const res = await postDiff(
        {
          branch: name,
          rows: inputs.diffRows,
          key: inputs.reportKey,
          pr: ctx.prNumber !== null ? { owner: ctx.owner, repo: ctx.repo, number: ctx.prNumber } : null,
          comment: inputs.comment,
          readOnlyToken: ctx.isFork,
          secrets: connectionSecrets({ password: deps.env.PGPASSWORD ?? '', uri: deps.env[inputs.envVar] ?? '' }),
        },
        { agent: client, github },
      );
      for (const warning of res.warnings) core.warning(warning);
      await core.summary.addRaw(res.markdown, true).write();
      core.setOutput('branch', name);
      core.setOutput('schema-changes', String(res.diff.summary.length));
      core.setOutput('diff-sql', res.diff.sql);
      core.info(`Diff of ${name} against ${res.diff.parent ?? 'its parent'}: ${res.diff.summary.length} schema change(s)`);
      if (res.comment) core.info(`PR comment ${res.comment.action}: ${res.comment.url}`);
      else if (res.commentSkipped) core.notice(`No PR comment: ${res.commentSkipped}.`);
      return;
    }
    case 'delete': {
      const res = await deleteIfPresent(client, name, { repo: runOrigin(ctx).repo });
      core.setOutput('branch', name);
      core.info(res.absent ? `Branch ${name} does not exist: nothing to delete` : `Deleted ${res.deleted.join(', ')}`);
      return;
    }
  }
}

/** The main step. One top-level catch; error messages are redacted of every secret we know. */
export async function run(overrides: Partial<RunDeps> = {}): Promise<void> {
  const deps = withDefaults(overrides);
  const masker = new Masker(deps.core);
  try {
    const ctx = readRunContext(deps.env);
    const inputs = readInputs((name) => deps.core.getInput(name), ctx);
    masker.mask(inputs.token, inputs.githubToken);
    await runCommandInput(inputs, ctx, deps, masker);
  } catch (err) {
    deps.core.setFailed(stripSecrets(err instanceof Error ? err.message : String(err), masker.secrets));
  }
}

/**
 * The post step (runs even when the job failed): deletes the branch only if this run created it and
 * `delete-on-complete` is set. Cleanup trouble is a warning; it never fails the job.
 */
export async function runPost(overrides: Partial<RunDeps> = {}): Promise<void> {
  const deps = withDefaults(overrides);
  const { core } = deps;
  const masker = new Masker(core);
  const branch = core.getState(STATE.branch);
  try {
    if (!branch || core.getState(STATE.created) !== 'true') {
      core.info('vela-branch: no branch created by this run, nothing to clean up');
      return;
    }
    const ctx = readRunContext(deps.env);
    const inputs = readInputs((name) => core.getInput(name), ctx);
    masker.mask(inputs.token, inputs.githubToken);
    if (!inputs.deleteOnComplete) {
      core.info(`vela-branch: keeping branch ${branch} (delete-on-complete is false)`);
      return;
    }
    const client = await agentClient(inputs, deps, masker);
    const res = await deleteIfPresent(client, branch, { repo: runOrigin(ctx).repo });
    core.info(res.absent ? `vela-branch: branch ${branch} was already gone` : `vela-branch: deleted branch ${branch}`);
  } catch (err) {
    const message = stripSecrets(err instanceof Error ? err.message : String(err), masker.secrets);
    core.warning(`vela-branch: could not delete branch ${branch}: ${message}`);
  }
}
