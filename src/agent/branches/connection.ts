import type { Branch, ConnectionInfo } from '../../core/api/index.ts';
import type { BranchRecord } from './registry.ts';

export function connectionInfo(rec: BranchRecord, host: string): ConnectionInfo {
  // Branch postgres always has ssl=on; the client has no CA unless it fetched GET /v1/ca, so require, not verify-full.
  const uri = `postgresql://${encodeURIComponent(rec.user)}:${encodeURIComponent(rec.password)}@${hostForUri(host)}:${rec.port}/${encodeURIComponent(rec.database)}?sslmode=require`;
  return { host, port: rec.port, database: rec.database, user: rec.user, password: rec.password, uri };
}

function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The public view of a record; credentials only when the caller may write the branch and it is ready.
 * A streaming standby (a replica `main`) never shows any: its roles and passwords are the source's.
 */
export function toBranch(rec: BranchRecord, host: string, withCredentials: boolean): Branch {
  const b: Branch = {
    name: rec.name,
    parent: rec.parent,
    state: rec.state,
    host,
    port: rec.port,
    database: rec.database,
    user: rec.user,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    expiresAt: rec.expiresAt,
    protected: rec.protected,
    labels: { ...rec.labels },
    storage: { ...rec.storage },
    timings: { ...rec.timings },
  };
  if (rec.error) b.error = rec.error;
  if (withCredentials && rec.state === 'ready' && !rec.standby) b.connection = connectionInfo(rec, host);
  return b;
}
