import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseListen } from '../../src/agent/config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vela-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function yamlFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills every default', () => {
    const cfg = loadConfig({ env: {}, flags: {} });
    expect(cfg).toMatchObject({
      dataDir: resolve('./.vela'),
      listen: { host: '127.0.0.1', port: 7070 },
      storage: 'auto',
      pgBin: null,
      pgUser: 'vela',
      publicHost: '127.0.0.1',
      pgListen: '127.0.0.1',
      ports: { from: 55000, to: 55999 },
      branch: { sharedBuffers: '16MB', maxConnections: 30, workMem: '4MB', defaultTtl: null },
      pool: { image: null, sizeGiB: 20 },
      zfs: { dataset: null },
      shutdown: { stopBranches: false },
      tokens: [],
      oidc: null,
      logLevel: 'info',
    });
  });

  it('reads the file and applies flags > env > file', async () => {
    const file = await yamlFile(
      'full.yml',
      [
        'dataDir: /srv/vela',
        'listen: 0.0.0.0:8080',
        'insecureHttp: true',
        'storage: copy',
        'ports: { from: 56000, to: 56999 }',
        'branch: { defaultTtl: 3d }',
        'tokens:',
        '  - { name: ci, token: ci-token-0123456789abcdef, scope: write, prefixes: [pr-], parents: [main] }',
        'oidc:',
        '  audience: vela',
        '  rules:',
        '    - { repository: octo/app, ref: "refs/pull/*", scope: write }',
      ].join('\n'),
    );
    const fromFile = loadConfig({ file, env: {}, flags: {} });
    expect(fromFile.dataDir).toBe('/srv/vela');
    expect(fromFile.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(fromFile.ports).toEqual({ from: 56000, to: 56999 });
    expect(fromFile.branch.defaultTtl).toBe('3d');
    expect(fromFile.tokens[0]).toMatchObject({ name: 'ci', scope: 'write', prefixes: ['pr-'] });
    expect(fromFile.oidc).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', audience: 'vela' });

    const env = { VELA_LISTEN: '[::1]:9000', VELA_STORAGE: 'reflink', VELA_PG_BIN: '/usr/lib/postgresql/18/bin' };
    const withEnv = loadConfig({ file, env, flags: {} });
    expect(withEnv.listen).toEqual({ host: '::1', port: 9000 });
    expect(withEnv.storage).toBe('reflink');
    expect(withEnv.pgBin).toBe('/usr/lib/postgresql/18/bin');

    const withFlags = loadConfig({ file, env, flags: { listen: '127.0.0.1:9100', '--data-dir': '/tmp/x', json: 'true' } });
    expect(withFlags.listen).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(withFlags.dataDir).toBe('/tmp/x');
    expect(withFlags.storage).toBe('reflink');
  });

  it('names the bad key path and file', async () => {
    const file = await yamlFile('bad-scope.yml', 'tokens:\n  - { name: ci, token: ci-token-0123456789abcdef, scope: root }\n');
    expect(problems(() => loadConfig({ file, env: {}, flags: {} }))).toEqual([
      `config ${file}: tokens.0.scope: expected one of admin|write|read`,
    ]);
  });

  it('rejects unknown keys, naming them', async () => {
    const file = await yamlFile('unknown.yml', 'listn: 1.2.3.4:80\nbranch: { sharedBufers: 1GB }\n');
    const found = problems(() => loadConfig({ file, env: {}, flags: {} }));
    expect(found).toContain(`config ${file}: listn: unknown key`);
    expect(found).toContain(`config ${file}: branch.sharedBufers: unknown key`);
  });

  it('blames the env var or flag that set a bad value', () => {
    expect(problems(() => loadConfig({ env: { VELA_STORAGE: 'nfs' }, flags: {} }))).toEqual([
      'env VELA_STORAGE: storage: expected one of auto|btrfs|zfs|reflink|copy',
    ]);
    expect(problems(() => loadConfig({ env: {}, flags: { listen: 'localhost' } }))[0]).toMatch(
      /^flag --listen: listen: expected HOST:PORT/,
    );
  });

  it('branch.quota: 10G by default, sizes in binary units or bytes, 0/none for no quota, a clear error otherwise', async () => {
    const quotaOf = async (yaml: string) => loadConfig({ file: await yamlFile('quota.yml', yaml), env: {}, flags: {} }).branch.quota;
    expect(loadConfig({ env: {}, flags: {} }).branch.quota).toBe(10 * 1024 ** 3);
    expect(await quotaOf('branch: { quota: 512M }')).toBe(512 * 1024 ** 2);
    expect(await quotaOf('branch: { quota: 1.5GiB }')).toBe(1.5 * 1024 ** 3);
    expect(await quotaOf('branch: { quota: 104857600 }')).toBe(104857600);
    expect(await quotaOf('branch: { quota: none }')).toBeNull();
    expect(await quotaOf('branch: { quota: 0 }')).toBeNull();
    const file = await yamlFile('bad-quota.yml', 'branch: { quota: lots }');
    expect(problems(() => loadConfig({ file, env: {}, flags: {} }))).toEqual([
      `config ${file}: branch.quota: expected a size such as 10G, 512M or 1T (binary units), a number of bytes, or 0/none for no quota (at least 16M)`,
    ]);
    const tiny = await yamlFile('tiny-quota.yml', 'branch: { quota: 1M }');
    expect(problems(() => loadConfig({ file: tiny, env: {}, flags: {} }))[0]).toMatch(/branch\.quota: .*at least 16M/);
  });

  it('a non-loopback listen needs tls.cert and tls.key, or insecureHttp; the pair comes together', async () => {
    expect(loadConfig({ env: {}, flags: { listen: '127.0.0.1:7070' } }).tls).toEqual({ cert: null, key: null });
    expect(loadConfig({ env: {}, flags: { listen: '[::1]:7070' } }).insecureHttp).toBe(false);
    const refused = problems(() => loadConfig({ env: {}, flags: { listen: '0.0.0.0:7070' } }));
    expect(refused).toEqual([expect.stringMatching(/^flag --listen: listen: 0\.0\.0\.0 is not a loopback address.*--insecure-http/)]);
    const viaFlags = loadConfig({ env: {}, flags: { listen: '0.0.0.0:7070', 'tls-cert': '/c.pem', 'tls-key': '/k.pem' } });
    expect(viaFlags.tls).toEqual({ cert: '/c.pem', key: '/k.pem' });
    const viaEnv = loadConfig({ env: { VELA_TLS_CERT: '/c.pem', VELA_TLS_KEY: '/k.pem' }, flags: { listen: '10.0.0.5:7070' } });
    expect(viaEnv.tls.cert).toBe('/c.pem');
    expect(loadConfig({ env: {}, flags: { listen: '0.0.0.0:7070', 'insecure-http': 'true' } }).insecureHttp).toBe(true);
    const half = await yamlFile('half-tls.yml', 'tls: { cert: /c.pem }');
    expect(problems(() => loadConfig({ file: half, env: {}, flags: {} }))).toEqual([
      `config ${half}: tls: set both cert and key, or neither`,
    ]);
  });

  it('checks cross-field rules without echoing secrets', async () => {
    const secret = 'ci-token-0123456789abcdef';
    const file = await yamlFile(
      'rules.yml',
      [
        'ports: { from: 56000, to: 55000 }',
        'branch: { defaultTtl: soon, sharedBuffers: lots }',
        'tokens:',
        `  - { name: ci, token: ${secret}, tokenSha256: ${'a'.repeat(64)}, scope: write }`,
        '  - { name: short, token: abc, scope: read }',
        'oidc: { audience: vela, rules: [ { ref: "refs/heads/main", scope: write } ] }',
      ].join('\n'),
    );
    const found = problems(() => loadConfig({ file, env: {}, flags: {} }));
    const byPath = (path: string) => found.find((p) => p.startsWith(`config ${file}: ${path}: `));
    expect(byPath('ports.to')).toMatch(/>= ports.from/);
    expect(byPath('branch.defaultTtl')).toMatch(/duration/);
    expect(byPath('branch.sharedBuffers')).toMatch(/16MB/);
    expect(byPath('tokens.0')).toMatch(/exactly one of token or tokenSha256/);
    expect(byPath('tokens.1.token')).toMatch(/at least 16/);
    expect(byPath('oidc.rules.0')).toMatch(/repository or repository_owner/);
    expect(found.join('\n')).not.toContain(secret);
  });

  it('OIDC rules: a * inside a name is refused; ids and job_workflow_ref pin a rule', async () => {
    const bad = await yamlFile(
      'glob.yml',
      'oidc: { audience: vela, rules: [ { repository: octo/app, ref: "refs/heads/main*", scope: write } ] }',
    );
    const found = problems(() => loadConfig({ file: bad, env: {}, flags: {} }));
    expect(found.find((p) => p.includes('oidc.rules.0.ref'))).toMatch(/one whole path segment.*"main\*"/);
    const good = await yamlFile(
      'ids.yml',
      'oidc: { audience: vela, rules: [ { repository_id: 42, job_workflow_ref: "octo/app/.github/workflows/ci.yml@refs/heads/main", scope: write, prefixes: [pr-] } ] }',
    );
    expect(loadConfig({ file: good, env: {}, flags: {} }).oidc?.rules[0]).toMatchObject({ repository_id: '42' });
  });

  it('reports YAML syntax errors by position only', async () => {
    const file = await yamlFile('syntax.yml', 'tokens:\n  - name: ci\n    token: "secret-value-unclosed\n');
    const [problem] = problems(() => loadConfig({ file, env: {}, flags: {} }));
    expect(problem).toMatch(new RegExp(`^config ${file}: invalid YAML at line \\d+`));
    expect(problem).not.toContain('secret-value');
  });

  it('reports a missing file', () => {
    expect(problems(() => loadConfig({ file: join(dir, 'nope.yml'), env: {}, flags: {} }))[0]).toMatch(/ENOENT/);
  });
});

describe('parseListen', () => {
  it('parses host:port, [v6]:port and a bare port', () => {
    expect(parseListen('10.0.0.1:80')).toEqual({ host: '10.0.0.1', port: 80 });
    expect(parseListen('[::]:7070')).toEqual({ host: '::', port: 7070 });
    expect(parseListen('7071')).toEqual({ host: '127.0.0.1', port: 7071 });
    expect(parseListen('host:99999')).toBeNull();
    expect(parseListen('::1:80')).toBeNull();
    expect(parseListen(':80')).toBeNull();
  });
});
