import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeMiddleware } from 'probot';
import type { Harness } from './harness.ts';
import { newDeliveryId } from './payloads.ts';
import { WEBHOOK_SECRET } from './probot.ts';

export const sign = (body: string, secret = WEBHOOK_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

export interface WebhookServer {
  endpoint: string;
  /** POSTs a body as GitHub does; headers override the defaults (pass a signature to sign). */
  post(event: string, body: string, headers?: Record<string, string>): Promise<Response>;
  /** POSTs a payload signed with the app's secret. */
  deliver(event: string, payload: unknown, deliveryId?: string): Promise<Response>;
  close(): Promise<void>;
}

/** The harness's app behind the same middleware `probot run` mounts, on a local HTTP server. */
export async function startWebhookServer(h: Harness): Promise<WebhookServer> {
  const middleware = await createNodeMiddleware(h.appFn, { probot: h.probot });
  const server = createServer((req, res) => {
    void middleware(req, res, () => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
  const post = (event: string, body: string, headers: Record<string, string> = {}) =>
    fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': newDeliveryId(), ...headers },
      body,
    });
  return {
    endpoint,
    post,
    deliver(event, payload, deliveryId = newDeliveryId()) {
      const body = JSON.stringify(payload);
      return post(event, body, { 'x-hub-signature-256': sign(body), 'x-github-delivery': deliveryId });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
