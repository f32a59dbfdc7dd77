import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWithPool } from '../helpers/env.ts';
import { startTestAgent } from '../helpers/agent-harness.ts';
import type { TestAgent } from '../helpers/agent-harness.ts';
import { processRunner } from '../../src/agent/runner.ts';

const BIN = fileURLToPath(new URL('../../bin/vela-branch.js', import.meta.url));
const SSL_OF_THIS_SESSION = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

/** A CA of the test's own and a certificate for 127.0.0.1 it signed: what an operator would configure. */
async function apiCertificate(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const f = (n: string) => join(dir, n);
  const ossl = (args: string[]) => processRunner(['openssl', ...args]);
  await ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=test api CA', '-keyout', f('api-ca.key'), '-out', f('api-ca.crt')]); // prettier-ignore
  await ossl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('api.key'), '-out', f('api.csr')]); // prettier-ignore
  await writeFile(f('api.ext'), 'subjectAltName=IP:127.0.0.1\n');
  await ossl(['x509', '-req', '-in', f('api.csr'), '-CA', f('api-ca.crt'), '-CAkey', f('api-ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('api.ext'), '-out', f('api.crt')]); // prettier-ignore
  return { ca: f('api-ca.crt'), cert: f('api.crt'), key: f('api.key') };
}

describeWithPool('TLS: the API over HTTPS, branch postgres with ssl=on', () => {
  let agent: TestAgent;
  let dir: string;
  let api: { ca: string; cert: string; key: string };
  let httpsUrl: string;
  let cli: (args: string[]) => Promise<string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vela-tls-'));
    api = await apiCertificate(dir);
    agent = await startTestAgent({ tag: 'tls', config: `tls: { cert: ${api.cert}, key: ${api.key} }` });
    httpsUrl = agent.url.replace(/^http:/, 'https:');
    const env = { ...process.env, VELA_AGENT_URL: httpsUrl, VELA_TOKEN: agent.token, NODE_EXTRA_CA_CERTS: api.ca };
    cli = async (args) => (await processRunner([process.execPath, BIN, ...args], { env })).stdout.trim();
  }, 120_000);

  afterAll(async () => {
    await agent?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('curl https://…/healthz works with the configured certificate, and only with it', async () => {
    const ok = await processRunner(['curl', '-sS', '--fail', '--cacert', api.ca, `${httpsUrl}/healthz`]);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true });
    // Without the CA the certificate does not verify (curl exit 60); plain HTTP gets no answer.
    expect((await processRunner(['curl', '-sS', `${httpsUrl}/healthz`], { allowFailure: true })).code).toBe(60);
    expect((await processRunner(['curl', '-sS', '--fail', `${agent.url}/healthz`], { allowFailure: true })).code).not.toBe(0);
  });

  it('psql "$(vela-branch url main)" negotiates TLS; verify-full works with the CA from vela-branch ca, not with another', async () => {
    const uri = await cli(['url', 'main']);
    expect(uri).toMatch(/\?sslmode=require$/);
    const psql = (conninfo: string) => processRunner(['psql', conninfo, '-Atc', SSL_OF_THIS_SESSION], { allowFailure: true });
    expect((await psql(uri)).stdout.trim()).toBe('t');

    const caFile = join(dir, 'vela-ca.pem');
    await writeFile(caFile, `${await cli(['ca'])}\n`);
    const verifyFull = (ca: string) => `${uri.replace('sslmode=require', 'sslmode=verify-full')}&sslrootcert=${ca}`;
    expect((await psql(verifyFull(caFile))).stdout.trim()).toBe('t');
    const wrong = await psql(verifyFull(api.ca));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate verify failed/);
  });

  it('GET /v1/ca needs a token and answers the same PEM', async () => {
    const r = await processRunner(['curl', '-sS', '--cacert', api.ca, '-H', `Authorization: Bearer ${agent.token}`, `${httpsUrl}/v1/ca`]);
    expect(JSON.parse(r.stdout).pem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const anon = await processRunner(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', api.ca, `${httpsUrl}/v1/ca`]);
    expect(anon.stdout).toBe('401');
  });

  it('a non-loopback --listen without TLS refuses to start and says how to fix it', () => {
    const r = spawnSync(process.execPath, [BIN, 'agent', '--listen', '0.0.0.0:7999', '--data-dir', join(dir, 'never')], {
      encoding: 'utf8',
      env: { ...process.env, VELA_CONFIG: '' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/0\.0\.0\.0 is not a loopback address.*--tls-cert.*--insecure-http/);
  });
});
