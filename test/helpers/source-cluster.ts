import { mkdir, writeFile, appendFile, chown } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { processRunner } from '../../src/agent/runner.ts';
import { portIsFree } from '../../src/agent/postgres/ports.ts';

const PG15 = '/usr/lib/postgresql/15/bin';

export interface SourceCluster {
  port: number;
  /** postgresql://app_owner:…@127.0.0.1:port/shop */
  url: string;
  /** postgresql://replicator:…@127.0.0.1:port/shop (REPLICATION role) */
  replicationUrl: string;
  sql(text: string, params?: unknown[]): Promise<pg.QueryResultRow[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Lets `user` in from 127.0.0.1 without a password (trust), for sources reached with no password. */
  trust(user: string): Promise<void>;
}

function vela(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('vela:'))!;
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * A separate, real PostgreSQL 15 cluster standing in for "production": its own data dir and port,
 * a database `shop` with PII columns, a login role and a replication role.
 */
export async function startSourceCluster(baseDir: string, preferredPort: number): Promise<SourceCluster> {
  let port = preferredPort;
  while (!(await portIsFree(port))) port++;
  const user = vela();
  const as = { uid: user.uid, gid: user.gid };
  const dir = join(baseDir, 'source');
  await mkdir(dir, { recursive: true });
  await chown(dir, user.uid, user.gid);
  await processRunner(
    [`${PG15}/initdb`, '-D', dir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8'],
    as,
  );
  await appendFile(
    join(dir, 'postgresql.conf'),
    `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nwal_level = replica\nmax_wal_senders = 5\n`,
  );
  await writeFile(
    join(dir, 'pg_hba.conf'),
    'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n',
  );
  const ctl = (args: string[]) => processRunner([`${PG15}/pg_ctl`, ...args, '-D', dir, '-l', join(dir, 'source.log'), '-w', '-s'], as);
  await ctl(['start']);
  const admin = async (text: string, db = 'postgres') => {
    const c = new pg.Client({ host: dir, port, user: 'postgres', database: db });
    await c.connect();
    try {
      return (await c.query(text)).rows;
    } finally {
      await c.end();
    }
  };
  await admin("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw-1'");
  await admin("CREATE ROLE replicator LOGIN REPLICATION PASSWORD 'repl-pw-1'");
  await admin('CREATE DATABASE shop OWNER app_owner');
  await admin(
    `CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, full_name text NOT NULL, city text);
     CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(10,2) CHECK (total >= 0));
     CREATE INDEX orders_customer ON orders(customer_id);
     INSERT INTO customers(email, full_name, city) SELECT 'person' || g || '@real-mail.example', 'Real Person ' || g, 'City ' || (g % 10) FROM generate_series(1, 500) g;
     INSERT INTO orders(customer_id, total) SELECT 1 + g % 500, g % 97 FROM generate_series(1, 3000) g;
     ALTER TABLE customers OWNER TO app_owner; ALTER TABLE orders OWNER TO app_owner;
     GRANT SELECT ON ALL TABLES IN SCHEMA public TO replicator;`,
    'shop',
  );
  return {
    port,
    url: `postgresql://app_owner:owner-pw-1@127.0.0.1:${port}/shop`,
    replicationUrl: `postgresql://replicator:repl-pw-1@127.0.0.1:${port}/shop`,
    sql: (text) => admin(text, 'shop'),
    stop: async () => {
      await ctl(['stop', '-m', 'fast']);
    },
    start: async () => {
      await ctl(['start']);
    },
    trust: async (who: string) => {
      const hba = join(dir, 'pg_hba.conf');
      const lines = `host all ${who} 127.0.0.1/32 trust\nhost replication ${who} 127.0.0.1/32 trust\n`;
      await writeFile(hba, lines + readFileSync(hba, 'utf8'));
      await admin('SELECT pg_reload_conf()');
    },
  };
}
