import { run } from 'probot';
import type { Server } from 'probot';
import { AgentClient } from '../core/client.ts';
import { createApp } from './index.ts';

export interface AppEnv {
  VELA_AGENT_URL?: string;
  VELA_TOKEN?: string;
  APP_SLUG?: string;
  [key: string]: string | undefined;
}

/** Reads the app's own settings and, once there is an APP_ID, insists on WEBHOOK_SECRET; Probot reads APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, GHE_HOST, PORT itself. */
export function readAppSettings(env: AppEnv): { agentUrl: string; token?: string; appSlug?: string } {
  const agentUrl = env.VELA_AGENT_URL?.trim();
  if (!agentUrl) throw new Error('VELA_AGENT_URL is not set: the app needs the URL of the vela agent');
  try {
    new URL(agentUrl);
  } catch {
    throw new Error('VELA_AGENT_URL is not a valid URL');
  }
  // Without a secret Probot would check signatures against its development secret, which anyone can forge.
  // Only the first-run setup page (no APP_ID yet: it registers the app and writes the secret) goes without.
  const secret = env.WEBHOOK_SECRET?.trim();
  if (env.APP_ID?.trim() && (!secret || secret === 'development')) {
    throw new Error("WEBHOOK_SECRET is not set: set it to the GitHub App's webhook secret (Probot's development secret is never accepted)");
  }
  return { agentUrl, token: env.VELA_TOKEN || undefined, appSlug: env.APP_SLUG || undefined };
}

/** Starts the webhook server the way `probot run` does; used by `vela-branch app`. */
export async function runApp(env: AppEnv = process.env): Promise<Server> {
  const settings = readAppSettings(env);
  const agent = new AgentClient({ url: settings.agentUrl, token: settings.token, userAgent: 'vela-branch-app' });
  return run(createApp({ agent, appSlug: settings.appSlug }), { env: env });
}
