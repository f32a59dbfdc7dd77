import { generateKeyPairSync } from 'node:crypto';
import { Probot, ProbotOctokit } from 'probot';

export const WEBHOOK_SECRET = 'test-webhook-secret';

// A real key, so Probot signs real app JWTs (nock checks no signature, but the code path is the production one).
export const { privateKey: TEST_PRIVATE_KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

/**
 * Probot's testing recipe turns retry and throttling off so nock sees each call exactly once and
 * writes aren't spaced 1 s apart. In Probot 14 the object form
 * `ProbotOctokit.defaults({ throttle: { enabled: false } })` is overridden by the throttle options
 * Probot adds later (shallow merge), so the switch-off is applied as a function, last.
 */
const TestOctokit = ProbotOctokit.defaults((options: Record<string, any>) => ({
  ...options,
  retry: { ...options.retry, enabled: false },
  throttle: { ...options.throttle, enabled: false },
}));

export function testProbot(): Probot {
  return new Probot({
    appId: 123,
    privateKey: TEST_PRIVATE_KEY,
    secret: WEBHOOK_SECRET,
    logLevel: 'fatal',
    Octokit: TestOctokit,
  });
}
