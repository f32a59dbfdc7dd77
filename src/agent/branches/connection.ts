import type { Branch, ConnectionInfo } from '../../core/api/index.ts';
import { proxyDatabase } from '../proxy/route.ts';
import type { BranchRecord } from './registry.ts';

/** Where clients connect: the public host, and the postgres proxy's port when the proxy is on. */
export interface Endpoint {
  host: string;
  /** null: every branch on its own port. */
  proxyPort: number | null;
}

type Where = string | Endpoint;

const endpoint = (where: Where): Endpoint => (typeof where === 'string' ? { host: where, proxyPort: null } : where);

/** host, port and database a client uses: through the proxy (database = the branch, route.ts) or direct. */
function address(rec: BranchRecord, where: Where): { host: string; port: number; database: string } {
  const e = endpoint(where);
  if (e.proxyPort === null) return { host: e.host, port: rec.port, database: rec.database };
  return { host: e.host, port: e.proxyPort, database: proxyDatabase(rec.name) };
}

export function connectionInfo(rec: BranchRecord, where: Where): ConnectionInfo {
  const { host, port, database } = address(rec, where);
  // Branch postgres (and the proxy) always has TLS; the client has no CA unless it fetched GET /v1/ca, so require, not verify-full.
  const uri = `postgresql://${encodeURIComponent(rec.user)}:${encodeURIComponent(rec.password)}@${hostForUri(host)}:${port}/${encodeURIComponent(database)}?sslmode=require`;
  return { host, port, database, user: rec.user, password: rec.password, uri };
}

function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * The public view of a record; credentials only when the caller may write the branch and it is ready
 * (or stopped, when the proxy is on and will wake it).
 * A streaming standby (a replica `main`) never shows any: its roles and passwords are the source's.
 */
export function toBranch(rec: BranchRecord, where: Where, withCredentials: boolean): Branch {
  const { host, port, database } = address(rec, where);
  const b: Branch = {
    name: rec.name,
    parent: rec.parent,
    state: rec.state,
    host,
    port,
    database,
    user: rec.user,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    expiresAt: rec.expiresAt,
    protected: rec.protected,
    labels: { ...rec.labels },
    storage: { ...rec.storage },
    timings: { ...rec.timings },
  };
  if (port !== rec.port) b.directPort = rec.port;
  if (rec.error) b.error = rec.error;
  // Through the proxy a stopped branch is one connection away from ready: connecting wakes it.
  const connectable = rec.state === 'ready' || (rec.state === 'stopped' && endpoint(where).proxyPort !== null);
  if (withCredentials && connectable && !rec.standby) b.connection = connectionInfo(rec, where);
  return b;
}
