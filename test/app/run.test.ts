import { createHmac } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'probot';
import { readAppSettings, runApp } from '../../src/app/run.ts';
import { runCli } from '../cli/helpers.ts';
import { lockDownNetwork } from '../helpers/github-mocks.ts';
import { TEST_PRIVATE_KEY, WEBHOOK_SECRET } from './helpers/probot.ts';

describe('readAppSettings', () => {
  it('needs VELA_AGENT_URL, as a URL', () => {
    expect(() => readAppSettings({})).toThrow('VELA_AGENT_URL is not set');
    expect(() => readAppSettings({ VELA_AGENT_URL: 'not a url' })).toThrow('not a valid URL');
  });

  it('reads the agent URL, token and optional slug', () => {
    expect(readAppSettings({ VELA_AGENT_URL: 'http://agent:7070', VELA_TOKEN: 't0k', APP_SLUG: 'vela', WEBHOOK_SECRET })).toEqual({
      agentUrl: 'http://agent:7070',
      token: 't0k',
      appSlug: 'vela',
    });
  });

  it("refuses to run without WEBHOOK_SECRET, or with Probot's development secret", () => {
    const app = { VELA_AGENT_URL: 'http://agent:7070', APP_ID: '123' };
    for (const secret of [undefined, '', '  ', 'development']) {
      expect(() => readAppSettings({ ...app, WEBHOOK_SECRET: secret })).toThrow(
        "WEBHOOK_SECRET is not set: set it to the GitHub App's webhook secret (Probot's development secret is never accepted)",
      );
    }
    // Before registration (no APP_ID) Probot only serves its setup page, which writes the secret.
    expect(readAppSettings({ VELA_AGENT_URL: 'http://agent:7070' }).agentUrl).toBe('http://agent:7070');
  });

  it('`vela-branch app` without WEBHOOK_SECRET exits 1 with one line and serves nothing', async () => {
    const port = await freePort();
    const r = await runCli(['app'], {
      env: { APP_ID: '123', PRIVATE_KEY: TEST_PRIVATE_KEY, VELA_AGENT_URL: 'http://127.0.0.1:9', PORT: String(port) },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "vela-branch: app: WEBHOOK_SECRET is not set: set it to the GitHub App's webhook secret (Probot's development secret is never accepted)\n",
    );
    await expect(fetch(`http://127.0.0.1:${port}/api/github/webhooks`)).rejects.toThrow();
  });

  it('never puts the token in an error message', () => {
    let message = '';
    try {
      readAppSettings({ VELA_AGENT_URL: 'bad url', VELA_TOKEN: 'super-secret-token' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toContain('super-secret-token');
  });
});

describe('runApp', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    nock.cleanAll();
  });

  it('serves the webhook endpoint from the usual Probot env, and checks signatures', async () => {
    lockDownNetwork();
    const port = await freePort();
    server = await runApp({
      APP_ID: '123',
      PRIVATE_KEY: TEST_PRIVATE_KEY,
      WEBHOOK_SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'fatal',
      VELA_AGENT_URL: 'http://127.0.0.1:9',
      VELA_TOKEN: 'unused',
    });
    const url = `http://127.0.0.1:${port}/api/github/webhooks`;
    // A ping event: signed correctly it is accepted (the app has no handler for it), unsigned it is refused.
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const headers = { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': 'd-1' };
    const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
    const ok = await fetch(url, { method: 'POST', headers: { ...headers, 'x-hub-signature-256': signature }, body });
    const bad = await fetch(url, { method: 'POST', headers: { ...headers, 'x-hub-signature-256': 'sha256=00' }, body });
    expect(ok.status).toBe(200);
    expect(bad.status).toBe(400);
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
