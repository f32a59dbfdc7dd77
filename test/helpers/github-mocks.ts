import nock from 'nock';

/**
 * GitHub's API is the one thing tests mock (with nock). Every test that mocks it locks the network
 * down first, so an unmocked call fails instead of reaching github.com, and checks afterwards that
 * every mock it registered was used.
 */

/** Blocks the network except localhost (fake or real agents, local webhook servers). */
export function lockDownNetwork(): void {
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost)(:\d+)?$/);
}

/**
 * Clears every mock and opens the network again; returns the mocks that were never used, so the
 * caller can assert the list is empty after its own cleanup.
 */
export function releaseGitHubMocks(): string[] {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  nock.enableNetConnect();
  return pending;
}
