import { chmod, chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import { CommandNotFoundError } from '../runner.ts';
import type { OsUser } from './os-user.ts';

export interface PostgresTls {
  /** PEM of the agent's CA: what clients need for sslmode=verify-full (GET /v1/ca). */
  caPem: string;
  certFile: string;
  keyFile: string;
}

/**
 * The agent's own CA (key in the 0700 state dir, never readable by postgres) and one server
 * certificate every branch postgres uses, with the public host in its SAN so verify-full works.
 * The server key is root's, group of the postgres user, 0640: postgres accepts that, nobody else reads it.
 * Made with the openssl CLI through the runner; the server certificate is re-issued when the host changes.
 */
export async function ensurePostgresTls(o: {
  runner: Runner;
  stateDir: string;
  /** Root-owned directory the postgres user can read (outside every data dir, so snapshots never copy it). */
  tlsDir: string;
  publicHost: string;
  user: OsUser | null;
}): Promise<PostgresTls> {
  const caDir = join(o.stateDir, 'ca');
  const caKey = join(caDir, 'ca.key');
  const caCrt = join(caDir, 'ca.crt');
  const certFile = join(o.tlsDir, 'server.crt');
  const keyFile = join(o.tlsDir, 'server.key');
  const sanFile = join(o.tlsDir, 'server.san');
  const openssl = (args: string[]) => runOpenssl(o.runner, args);

  await mkdir(caDir, { recursive: true, mode: 0o700 });
  await chmod(caDir, 0o700);
  if (!(await exists(caCrt)) || !(await exists(caKey))) {
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${caKey}.tmp`]);
    await chmod(`${caKey}.tmp`, 0o600);
    await openssl([
      'req', '-x509', '-new', '-key', `${caKey}.tmp`, '-sha256', '-days', '3650', '-subj', '/CN=vela-branch agent CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-out', `${caCrt}.tmp`,
    ]); // prettier-ignore
    await rename(`${caKey}.tmp`, caKey);
    await rename(`${caCrt}.tmp`, caCrt);
    await rm(sanFile, { force: true }); // a new CA re-issues the server certificate
  }

  const san = subjectAltNames(o.publicHost);
  if (san === null) throw new Error(`publicHost "${o.publicHost.slice(0, 80)}" is neither an IP address nor a DNS name`);
  await mkdir(o.tlsDir, { recursive: true, mode: 0o750 });
  if (o.user) await chown(o.tlsDir, 0, o.user.gid);
  await chmod(o.tlsDir, 0o750);
  const current = await readFile(sanFile, 'utf8').catch(() => null);
  if (current !== san || !(await exists(certFile)) || !(await exists(keyFile))) {
    const csr = join(caDir, 'server.csr');
    const ext = join(caDir, 'server.ext');
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${keyFile}.tmp`]);
    await openssl(['req', '-new', '-key', `${keyFile}.tmp`, '-subj', '/CN=vela-branch postgres', '-out', csr]);
    await writeFile(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`, { mode: 0o600 });
    await openssl([
      'x509', '-req', '-in', csr, '-CA', caCrt, '-CAkey', caKey, '-CAcreateserial', '-days', '825', '-sha256',
      '-extfile', ext, '-out', `${certFile}.tmp`,
    ]); // prettier-ignore
    if (o.user) await chown(`${keyFile}.tmp`, 0, o.user.gid);
    await chmod(`${keyFile}.tmp`, o.user ? 0o640 : 0o600);
    await chmod(`${certFile}.tmp`, 0o644);
    await rename(`${keyFile}.tmp`, keyFile);
    await rename(`${certFile}.tmp`, certFile);
    await writeFile(sanFile, san);
    await rm(csr, { force: true });
  }
  return { caPem: await readFile(caCrt, 'utf8'), certFile, keyFile };
}

/** localhost and 127.0.0.1 always, and the public host as an IP or DNS name (null when it is neither). */
export function subjectAltNames(publicHost: string): string | null {
  const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const host = publicHost.replace(/^\[|\]$/g, '');
  if (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(host)) return null;
  const entry = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  if (!names.includes(entry)) names.push(entry);
  return names.join(',');
}

async function runOpenssl(runner: Runner, args: string[]): Promise<void> {
  try {
    await runner(['openssl', ...args]);
  } catch (err) {
    if (err instanceof CommandNotFoundError) {
      throw new Error('TLS for branch postgres: the openssl command is not installed (apt-get install openssl)', { cause: err });
    }
    throw err;
  }
}

function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}
