import { describe, expect, it } from 'vitest';
import { defaultBranchName, readRunContext, runOrigin } from '../../src/action/context.ts';
import { branchLabels } from '../../src/core/workflows/branch-names.ts';
import { readInputs } from '../../src/action/inputs.ts';
import { githubEnv } from './helpers/github-env.ts';

const prCtx = () => readRunContext(githubEnv('pull_request', { pr: 12 }));
const read = (inputs: Record<string, string>, ctx = prCtx()) => readInputs((n) => inputs[n] ?? '', ctx);
const base = { 'agent-url': 'https://vela.internal:7070', token: 'tok-secret-123' };

describe('run context', () => {
  it('names the branch pr-<n> on pull_request and labels it with the head sha', () => {
    const ctx = prCtx();
    expect(defaultBranchName(ctx)).toBe('pr-12-shop-d21b');
    expect(branchLabels(runOrigin(ctx))).toEqual({ repo: 'acme/shop', pr: '12', sha: 'a'.repeat(40), actor: 'ada' });
    expect(ctx.isFork).toBe(false);
    expect(ctx.runUrl).toBe('https://github.com/acme/shop/actions/runs/4567/attempts/2');
  });

  it('names the branch run-<id>-<attempt> elsewhere', () => {
    const ctx = readRunContext(githubEnv('push'));
    expect(defaultBranchName(ctx)).toBe('run-4567-2');
    expect(branchLabels(runOrigin(ctx))).not.toHaveProperty('pr');
    expect(branchLabels(runOrigin(ctx)).sha).toBe('c'.repeat(40));
  });

  it('detects fork PRs and Dependabot', () => {
    expect(readRunContext(githubEnv('pull_request', { fork: true })).isFork).toBe(true);
    expect(readRunContext(githubEnv('pull_request', { actor: 'dependabot[bot]' })).isDependabot).toBe(true);
  });
});

describe('readInputs', () => {
  it('applies the documented defaults', () => {
    expect(read(base)).toEqual({
      command: 'ensure',
      agentUrl: 'https://vela.internal:7070',
      token: 'tok-secret-123',
      oidcAudience: null,
      githubToken: null,
      branch: 'pr-12-shop-d21b',
      parent: null,
      ttl: null,
      envVar: 'DATABASE_URL',
      junit: null,
      comment: true,
      deleteOnComplete: false,
      maxFailures: 20,
      reportKey: 'test',
      diff: false,
      diffRows: 0,
    });
  });

  it('diff: command diff, report with diff: true (needs agent-url), diff-rows 0-100', () => {
    expect(read({ ...base, command: 'diff', 'diff-rows': '5' })).toMatchObject({ command: 'diff', diffRows: 5 });
    expect(read({ ...base, command: 'report', junit: 'r/*.xml', diff: 'true' })).toMatchObject({ diff: true, diffRows: 0 });
    expect(() => read({ command: 'report', junit: 'r/*.xml', diff: 'true' })).toThrow(
      'input `agent-url`: required for report with diff: true',
    );
    expect(() => read({ ...base, command: 'diff', 'diff-rows': '101' })).toThrow(
      'input `diff-rows`: must be a whole number from 0 to 100 (got "101")',
    );
    expect(() => read({ ...base, command: 'diff', 'diff-rows': 'lots' })).toThrow(
      'input `diff-rows`: must be a whole number from 0 to 100 (got "lots")',
    );
  });

  it('parses explicit values', () => {
    const got = read({
      ...base,
      command: 'create',
      branch: 'qa',
      parent: 'staging',
      ttl: '2h',
      'env-var': 'PG_URL',
      comment: 'False',
      'delete-on-complete': 'TRUE',
      'max-failures': '5',
    });
    expect(got).toMatchObject({
      command: 'create',
      branch: 'qa',
      parent: 'staging',
      ttl: '2h',
      envVar: 'PG_URL',
      comment: false,
      deleteOnComplete: true,
      maxFailures: 5,
    });
  });

  it.each([
    [{ command: 'nuke' }, 'input `command`: must be one of ensure, create, delete, reset, rebase, report'],
    [{ branch: 'Feature/Login' }, 'input `branch`: a branch name is 1-63 characters'],
    [{ parent: '-x' }, 'input `parent`: a branch name'],
    [{ ttl: 'forever' }, 'input `ttl`: a duration is a whole number'],
    [{ 'agent-url': 'vela.internal' }, 'input `agent-url`: must be an http(s) URL'],
    [{ 'env-var': 'DATABASE-URL' }, 'input `env-var`: must be an environment variable name'],
    [{ comment: 'yes' }, 'input `comment`: must be true or false'],
    [{ 'delete-on-complete': '1' }, 'input `delete-on-complete`: must be true or false'],
    [{ 'max-failures': 'lots' }, 'input `max-failures`'],
    [{ 'max-failures': '5000' }, 'input `max-failures`'],
    [{ 'oidc-audience': 'vela' }, 'input `token`: set either token or oidc-audience, not both'],
  ])('rejects %o with a message naming the input', (bad, message) => {
    expect(() => read({ ...base, ...bad })).toThrow(message);
  });

  it('requires agent-url except for report, and junit for report', () => {
    expect(() => read({ token: 'x' })).toThrow('input `agent-url`: required for command ensure');
    expect(() => read({ command: 'report' })).toThrow('input `junit`: required for command report');
    expect(read({ command: 'report', junit: 'r/*.xml' }).agentUrl).toBeNull();
  });

  it('reports every bad input at once and never echoes a token', () => {
    const err = (() => {
      try {
        read({ ...base, ttl: 'x', branch: 'BAD', 'oidc-audience': 'aud' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a validation error');
    })();
    expect(err.message).toContain('`ttl`');
    expect(err.message).toContain('`branch`');
    expect(err.message).not.toContain('tok-secret-123');
  });
});
