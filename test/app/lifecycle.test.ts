import { afterEach, describe, it } from 'vitest';
import { NOW, startHarness, closeAndCheck } from './helpers/harness.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import type { Harness } from './helpers/harness.ts';
import { runPrLifecycle } from './helpers/lifecycle.ts';

describe('scripted PR lifecycle (in-memory agent)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await closeAndCheck(h);
  });

  it('open ×2, push to a stopped branch, /vela reset, /vela extend 2d, close: no branch left, one sticky comment', async () => {
    lockDownNetwork();
    h = await startHarness();
    await runPrLifecycle(h, () => NOW.getTime());
  });
});
