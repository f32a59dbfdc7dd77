import { describe, expect, it } from 'vitest';
import { parseSourceUrl } from '../../src/agent/sources/source-db.ts';
import { toolRunOptions } from '../../src/agent/sources/tool-env.ts';

describe('source URLs', () => {
  it('allow the libpq parameters on the list', () => {
    const u = parseSourceUrl(
      'postgresql://r:pw@db:5432/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=vela&connect_timeout=5&host=db2&port=5433&user=r&dbname=shop&password=x',
    );
    expect(u.hostname).toBe('db');
  });

  it('refuse any other parameter with a 400 that names it', () => {
    for (const [param, url] of [
      ['passfile', 'postgresql://r@db/shop?passfile=/root/.pgpass'],
      ['service', 'postgresql://r@db/shop?service=prod'],
      ['sslkey', 'postgresql://r@db/shop?sslmode=require&sslkey=/etc/vela/key.pem'],
      ['options', 'postgresql://r@db/shop?options=-c%20log_statement%3Dall'],
    ]) {
      let err: unknown;
      try {
        parseSourceUrl(url);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ status: 400 });
      expect((err as Error).message).toContain(`"${param}" not allowed`);
      expect((err as Error).message).toContain('allowed: host, port, dbname, user, password, sslmode');
    }
  });
});

describe('source tool environment', () => {
  it('runs as the given user with no HOME, no PG* variable of the agent and the password only in PGPASSWORD', () => {
    process.env.PGSERVICEFILE = '/root/.pg_service.conf';
    try {
      const o = toolRunOptions({ name: 'vela', uid: 999, gid: 998 }, 'pw', { PGHOST: '/s' });
      expect(o).toMatchObject({ uid: 999, gid: 998 });
      expect(Object.keys(o.env!).sort()).toEqual(['LC_ALL', 'PATH', 'PGCONNECT_TIMEOUT', 'PGHOST', 'PGPASSWORD']);
      expect(toolRunOptions(null).env).not.toHaveProperty('PGPASSWORD');
    } finally {
      delete process.env.PGSERVICEFILE;
    }
  });
});
