import type { ActionInputs } from './inputs.ts';

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Whether the job can authenticate to the agent at all (fork PRs get neither secrets nor an OIDC token). */
export function hasAgentCredentials(inputs: ActionInputs, env: NodeJS.ProcessEnv): boolean {
  if (inputs.token) return true;
  return !!inputs.oidcAudience && !!env.ACTIONS_ID_TOKEN_REQUEST_URL;
}

/**
 * The bearer for the agent: the `token` input, or the job's OIDC token for `oidc-audience`.
 * The runner only offers OIDC when the workflow grants `id-token: write`, so say exactly that.
 */
export async function resolveAgentToken(
  inputs: Pick<ActionInputs, 'token' | 'oidcAudience'>,
  env: NodeJS.ProcessEnv,
  getIDToken: (audience?: string) => Promise<string>,
): Promise<string> {
  if (inputs.token) return inputs.token;
  if (!inputs.oidcAudience) {
    throw new AuthError('no credentials for the vela agent: set the `token` input (a secret) or `oidc-audience`');
  }
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    throw new AuthError(
      '`oidc-audience` is set but the job has no OIDC token: add `permissions: id-token: write` to the workflow or job ' +
        '(fork pull requests never get one)',
    );
  }
  try {
    return await getIDToken(inputs.oidcAudience);
  } catch (err) {
    throw new AuthError(
      `could not get the job's OIDC token for audience ${JSON.stringify(inputs.oidcAudience)}: ${(err as Error).message}`,
    );
  }
}
