import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/core/client.ts';
import { BRANCH_NAME_RE } from '../../src/core/names.ts';
import { branchLabels, prBranchName, runBranchName } from '../../src/core/workflows/branch-names.ts';
import { deleteIfPresent } from '../../src/core/workflows/delete.ts';
import { ensureBranch } from '../../src/core/workflows/ensure.ts';
import { BranchMismatchError } from '../../src/core/workflows/ownership.ts';
import { branchTiming } from '../../src/core/workflows/timing.ts';
import { FakeAgent } from '../helpers/fake-agent.ts';

describe('branch names', () => {
  it('scopes PR branches to their repository: readable, valid, at most 63 characters', () => {
    expect(prBranchName('Codertocat/Hello-World', 2)).toBe('pr-2-hello-world-4d96');
    expect(prBranchName('acme/shop', 5)).toMatch(/^pr-5-shop-[0-9a-f]{4}$/);
    // Same PR number, same repository name, another owner: another branch.
    expect(prBranchName('other/shop', 5)).not.toBe(prBranchName('acme/shop', 5));
    // GitHub names are case-insensitive.
    expect(prBranchName('ACME/Shop', 5)).toBe(prBranchName('acme/shop', 5));
    for (const [repo, number] of [
      [`acme/${'very-long-repository-name-'.repeat(5)}`, 2_147_483_647],
      ['acme/___', 1],
      ['acme/Ünïcödé.Repo_v2', 77],
      ['', 3],
    ] as const) {
      const name = prBranchName(repo, number);
      expect(name, repo).toMatch(BRANCH_NAME_RE);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name.startsWith(`pr-${number}-`)).toBe(true);
    }
    expect(runBranchName('4567', '2')).toBe('run-4567-2');
  });

  it('one label vocabulary: repo, pr, sha, actor, absent facts left out', () => {
    expect(branchLabels({ repo: 'acme/shop', pr: 5, sha: 'abc', actor: 'ada' })).toEqual({
      repo: 'acme/shop',
      pr: '5',
      sha: 'abc',
      actor: 'ada',
    });
    expect(branchLabels({ repo: 'acme/shop', pr: null, sha: '', actor: undefined })).toEqual({ repo: 'acme/shop' });
  });
});

describe('branchTiming', () => {
  const now = Date.parse('2030-01-01T12:00:00Z');
  it('age, TTL left and expiry', () => {
    expect(branchTiming({ createdAt: '2030-01-01T11:00:00Z', expiresAt: '2030-01-02T12:00:00Z' }, now)).toEqual({
      ageMs: 3_600_000,
      ttlLeftMs: 86_400_000,
      expired: false,
    });
    expect(branchTiming({ createdAt: 'garbage', expiresAt: null }, new Date(now))).toEqual({
      ageMs: null,
      ttlLeftMs: null,
      expired: false,
    });
    expect(branchTiming({ createdAt: '2030-01-01T11:00:00Z', expiresAt: '2030-01-01T11:30:00Z' }, now)).toMatchObject({
      ttlLeftMs: 0,
      expired: true,
    });
  });
});

describe('ensureBranch and deleteIfPresent against the fake agent', () => {
  let agent: FakeAgent;
  let client: AgentClient;
  const fast = { sleep: async () => {}, pollMs: 1 };
  beforeEach(async () => {
    agent = await new FakeAgent().start();
    agent.seed('main-masked', { parent: 'main' });
    client = new AgentClient({ url: agent.url, token: 't' });
  });
  afterEach(() => agent.stop());

  it("never reuses, relabels or deletes another repository's branch", async () => {
    agent.seed('pr-5', { labels: { repo: 'acme/shop', pr: '5' } });
    const asked = { name: 'pr-5', labels: branchLabels({ repo: 'other/shop', pr: 5, sha: 'f00' }), wait: fast };
    const refused = ensureBranch(client, asked);
    await expect(refused).rejects.toThrow(BranchMismatchError);
    await expect(refused).rejects.toThrow(
      'branch pr-5 belongs to repository acme/shop, not other/shop: not reusing it; pick another branch name',
    );
    await expect(deleteIfPresent(client, 'pr-5', { repo: 'other/shop' })).rejects.toThrow('not deleting it');
    expect(agent.branches.get('pr-5')!.labels).toEqual({ repo: 'acme/shop', pr: '5' });
    expect(agent.countCalls('PATCH')).toBe(0);
    expect(agent.countCalls('DELETE')).toBe(0);
    // The owner (any case) may.
    expect((await ensureBranch(client, { ...asked, labels: { repo: 'ACME/shop', pr: '5' } })).created).toBe(false);
    expect(await deleteIfPresent(client, 'pr-5', { repo: 'acme/shop' })).toEqual({ deleted: ['pr-5'], absent: false });
    expect(await deleteIfPresent(client, 'pr-5', { repo: 'acme/shop' })).toEqual({ deleted: [], absent: true });
  });

  it('refuses an existing branch with another parent than the one asked for', async () => {
    agent.seed('pr-6', { parent: 'main', labels: { repo: 'acme/shop' } });
    await expect(ensureBranch(client, { name: 'pr-6', parent: 'main-masked', labels: { repo: 'acme/shop' }, wait: fast })).rejects.toThrow(
      'branch pr-6 already exists with parent main, not main-masked: delete it to recreate it from main-masked, or ask for parent main',
    );
    // No parent asked means the agent's default, main: reused.
    expect((await ensureBranch(client, { name: 'pr-6', labels: { repo: 'acme/shop' }, wait: fast })).branch.parent).toBe('main');
  });

  it('starts a stopped branch and keeps its labels current', async () => {
    agent.seed('pr-7', { state: 'stopped', labels: { repo: 'acme/shop', sha: 'old' } });
    const { branch, created } = await ensureBranch(client, { name: 'pr-7', labels: { repo: 'acme/shop', sha: 'new' }, wait: fast });
    expect(created).toBe(false);
    expect(branch.state).toBe('ready');
    expect(branch.labels).toEqual({ repo: 'acme/shop', sha: 'new' });
    expect(agent.calls).toEqual(['POST /v1/branches', 'PATCH /v1/branches/pr-7', 'POST /v1/branches/pr-7/start']);
  });
});
