import pg from 'pg';
import { badRequest, VelaError } from '../../core/errors.ts';

export interface SourceInfo {
  major: number;
  version: string;
  database: string;
  user: string;
  host: string;
  port: number;
  /** The bootstrap superuser (oid 10): the role a replica's branches log in as. */
  superuser: string;
  /** pg_database_size of the source database (the logical import's progress total). */
  bytes: number;
}

/** The URL without its password, for messages and logs. */
export function describeSource(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export function parseSourceUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest('source URL is not a URL: use postgresql://user:password@host:port/database');
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') throw badRequest('source URL must start with postgresql://');
  if (!u.hostname) throw badRequest('source URL has no host');
  if (u.pathname.length < 2) throw badRequest('source URL names no database (postgresql://…/DBNAME)');
  const unknown = [...new Set(u.searchParams.keys())].filter((k) => !SOURCE_PARAMS.has(k));
  if (unknown.length) {
    throw badRequest(
      `source URL parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')} not allowed; allowed: ${[...SOURCE_PARAMS].join(', ')}`,
    );
  }
  return u;
}

/** libpq parameters a source URL may carry; others (passfile, service, sslkey paths, options…) could make the tools read the agent's files. */
export const SOURCE_PARAMS = new Set([
  'host',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'sslrootcert',
  'application_name',
  'connect_timeout',
]);

/**
 * Connects once to learn the source's version; turns the usual failures into one clear error
 * that names the cause (unreachable, wrong credentials, no such database) and never the password.
 */
export async function probeSource(url: string): Promise<SourceInfo> {
  const u = parseSourceUrl(url);
  const where = describeSource(url);
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // No password in the URL: never fall back to the agent's own ~/.pgpass (the tools run without it).
  // Set after construction: the connection string's missing password would override the option.
  if (!u.password) {
    const refuse = () =>
      Promise.reject(new VelaError('source_auth_failed', 502, `the source database ${where} asks for a password: put it in the URL`));
    Object.assign(c, { password: refuse }); // pg accepts a password function; its Client type says string
  }
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query(
      "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n, current_database() AS db, current_user AS usr, (SELECT rolname FROM pg_roles WHERE oid = 10) AS su, pg_database_size(current_database()) AS bytes",
    );
    const row = r.rows[0]! as { v: string; n: string; db: string; usr: string; su: string; bytes: string };
    return {
      major: Math.floor(Number(row.n) / 10000),
      version: row.v,
      database: row.db,
      user: row.usr,
      host: u.hostname,
      port: Number(u.port || 5432),
      superuser: row.su,
      bytes: Number(row.bytes),
    };
  } catch (err) {
    if (err instanceof VelaError) throw err;
    const e = err as { code?: string; message?: string };
    if (
      e.code === 'ECONNREFUSED' ||
      e.code === 'EHOSTUNREACH' ||
      e.code === 'ENOTFOUND' ||
      e.code === 'ETIMEDOUT' ||
      /timeout/i.test(e.message ?? '')
    ) {
      throw new VelaError(
        'source_unreachable',
        502,
        `cannot reach the source database ${where} (${e.code ?? 'timeout'}): check host, port and firewall`,
      );
    }
    if (e.code === '28P01' || e.code === '28000') {
      throw new VelaError(
        'source_auth_failed',
        502,
        `the source database ${where} refused the credentials (${e.code === '28P01' ? 'wrong password' : 'no pg_hba entry or role'})`,
      );
    }
    if (e.code === '3D000') throw new VelaError('source_no_database', 502, `the source ${where} has no such database`);
    throw new VelaError('source_failed', 502, `cannot use the source database ${where}: ${(e.message ?? String(err)).slice(0, 200)}`);
  } finally {
    await c.end().catch(() => {});
  }
}
