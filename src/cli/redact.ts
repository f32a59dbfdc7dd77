import type { Branch, ConnectionInfo } from '../core/api/index.ts';

export type PublicConnection = Omit<ConnectionInfo, 'password' | 'uri'> & { uri?: string };
export type PublicBranch = Omit<Branch, 'connection'> & { connection?: PublicConnection };

/** The URI without its password (userinfo or `?password=`); undefined when it does not parse. */
export function uriWithoutPassword(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    url.password = '';
    url.searchParams.delete('password');
    return url.toString();
  } catch {
    return undefined;
  }
}

/** A branch fit for printing: only `vela-branch url` ever shows a password. */
export function redactBranch(branch: Branch): PublicBranch {
  const { connection, ...rest } = branch;
  if (!connection) return rest;
  const { password: _password, uri, ...visible } = connection;
  const safeUri = uriWithoutPassword(uri);
  return { ...rest, connection: safeUri ? { ...visible, uri: safeUri } : visible };
}
