import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPost, STATE } from '../../src/action/run.ts';
import { fakeCore } from './helpers/fake-core.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';
import { githubEnv } from './helpers/github-env.ts';

const TOKEN = 'vela-post-token-0123456789';
let agent: FakeAgent;
beforeEach(async () => {
  agent = await new FakeAgent({ tokens: [TOKEN] }).start();
});
afterEach(async () => {
  await agent.stop();
});

async function post(inputs: Record<string, string>, state: Record<string, string>) {
  const fake = fakeCore({ 'agent-url': agent.url, token: TOKEN, ...inputs }, { state });
  await runPost({ core: fake.core, env: githubEnv('pull_request'), fetch: globalThis.fetch });
  return fake;
}

describe('post step', () => {
  it('deletes the branch this run created when delete-on-complete is true', async () => {
    agent.seed('run-4567-2');
    const fake = await post({ 'delete-on-complete': 'true' }, { [STATE.branch]: 'run-4567-2', [STATE.created]: 'true' });
    expect(agent.branches.has('run-4567-2')).toBe(false);
    expect(fake.logText()).toContain('deleted branch run-4567-2');
    expect(fake.failed).toEqual([]);
  });

  it('keeps a branch this run only reused', async () => {
    agent.seed('pr-12');
    const fake = await post({ 'delete-on-complete': 'true' }, { [STATE.branch]: 'pr-12', [STATE.created]: 'false' });
    expect(agent.branches.has('pr-12')).toBe(true);
    expect(agent.requests).toEqual([]);
    expect(fake.logText()).toContain('nothing to clean up');
  });

  it('keeps the branch when delete-on-complete is false', async () => {
    agent.seed('pr-12');
    const fake = await post({}, { [STATE.branch]: 'pr-12', [STATE.created]: 'true' });
    expect(agent.branches.has('pr-12')).toBe(true);
    expect(fake.logText()).toContain('keeping branch pr-12');
  });

  it('does nothing when the main step never got a branch', async () => {
    const fake = await post({ 'delete-on-complete': 'true' }, {});
    expect(agent.requests).toEqual([]);
    expect(fake.failed).toEqual([]);
  });

  it('turns a failed cleanup into a warning, never a failure, without leaking the token', async () => {
    await agent.stop();
    agent = await new FakeAgent({ tokens: [TOKEN], brokenWith: `storage busy for ${TOKEN}` }).start();
    const fake = await post({ 'delete-on-complete': 'true' }, { [STATE.branch]: 'run-1-1', [STATE.created]: 'true' });
    expect(fake.failed).toEqual([]);
    const warnings = fake.calls.filter((c) => c.fn === 'warning').map((c) => String(c.args[0]));
    expect(warnings).toEqual(['vela-branch: could not delete branch run-1-1: storage busy for ***']);
  });

  it('warns (not fails) when the agent is unreachable', async () => {
    const url = agent.url;
    await agent.stop();
    const fake = fakeCore(
      { 'agent-url': url, token: TOKEN, 'delete-on-complete': 'true' },
      { state: { [STATE.branch]: 'run-1-1', [STATE.created]: 'true' } },
    );
    await runPost({ core: fake.core, env: githubEnv('push'), fetch: globalThis.fetch });
    expect(fake.failed).toEqual([]);
    expect(fake.calls.find((c) => c.fn === 'warning')?.args[0]).toContain('cannot reach the vela agent');
    agent = await new FakeAgent({ tokens: [TOKEN] }).start();
  });
});
