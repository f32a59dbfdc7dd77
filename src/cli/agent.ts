import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../agent/config.ts';
import { startAgent } from '../agent/server.ts';
import { resolve } from 'node:path';
import { chooseDefaultDataDir, DEFAULT_DATA_DIR } from '../agent/data-dir.ts';
import { processRunner } from '../agent/runner.ts';

export const AGENT_HELP = `Usage: vela-branch agent [options]

Runs the host agent: owns the storage pool, one postgres per branch, and the HTTP API.
On first start with an empty data dir it creates an empty root branch "main" (initdb).

Options:
  --data-dir DIR      where the pool, state and logs live (default ./.vela, or as root when the
                      postgres user cannot reach it /var/lib/vela-branch/<name>; env VELA_DATA_DIR)
  --listen HOST:PORT  API address (default 127.0.0.1:7070; env VELA_LISTEN)
  --tls-cert FILE     serve HTTPS with this PEM certificate (chain); needs --tls-key
  --tls-key FILE      the certificate's PEM private key
  --insecure-http     allow plain HTTP on a non-loopback --listen (TLS terminated in front)
  --storage KIND      auto | btrfs | zfs | reflink | copy (default auto: the best available)
  --pg-bin DIR        PostgreSQL binaries (default: embedded PostgreSQL 18)
  --public-host HOST  host written into connection strings (default 127.0.0.1)
  --config FILE       YAML config (tokens, OIDC, ports, memory; env VELA_CONFIG)
  --log-level LEVEL   info | debug | warn | error (default info)

The admin token comes from VELA_ADMIN_TOKEN, or is generated into DIR/admin-token (mode 0600).
As root, postgres runs as the unprivileged user "vela" (created if missing); --pg-bin and --data-dir
must be reachable by it (not under a 0700 home such as /root).

Examples:
  sudo vela-branch agent --data-dir /srv/vela
  vela-branch agent --listen 0.0.0.0:7070 --tls-cert /etc/vela/tls.crt --tls-key /etc/vela/tls.key --config /etc/vela/agent.yml`;

const say = (msg: string) => process.stderr.write(`vela agent: ${msg}\n`);

/** `vela-branch agent`: serve until SIGINT/SIGTERM, then shut down gracefully. Resolves with the exit code. */
export async function runAgentCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        storage: { type: 'string' },
        'pg-bin': { type: 'string' },
        'public-host': { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'insecure-http': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`vela-branch agent: ${(err as Error).message}\nRun vela-branch agent --help for the options.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${AGENT_HELP}\n`);
    return 0;
  }
  let cfg;
  try {
    const flags = Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
    if (values['insecure-http']) flags['insecure-http'] = 'true';
    cfg = loadConfig({ file: flags.config, env: process.env, flags });
  } catch (err) {
    process.stderr.write(`vela-branch agent: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return 2;
  }
  if (cfg.dataDir === resolve(DEFAULT_DATA_DIR) && !values['data-dir'] && !process.env.VELA_DATA_DIR) {
    try {
      const choice = await chooseDefaultDataDir({ dataDir: cfg.dataDir, pgUser: cfg.pgUser, runner: processRunner, log: say });
      if (choice.note) say(choice.note);
      cfg = { ...cfg, dataDir: choice.dir };
    } catch (err) {
      process.stderr.write(`vela-branch agent: cannot start: ${(err as Error).message}\n`);
      return 1;
    }
  }
  // Signal handlers first: a SIGTERM that arrives while the agent starts (or right after it says it
  // listens) must still shut it down gracefully, not kill it with branches half-stopped.
  let signalled: string | null = null;
  let onSignal: (signal: string) => void = (signal) => {
    signalled = signal;
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  let agent;
  try {
    agent = await startAgent(cfg, { configFile: (values.config as string | undefined) ?? process.env.VELA_CONFIG });
  } catch (err) {
    process.stderr.write(`vela-branch agent: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  const running = agent;
  const main = running.engine.manager.find('main');
  const tokenWhere = running.adminToken.path ? `admin token in ${running.adminToken.path}` : 'admin token from VELA_ADMIN_TOKEN';
  return new Promise<number>((resolve) => {
    onSignal = (signal) => {
      process.stderr.write(`vela agent: ${signal}: finishing in-flight requests…\n`);
      running.close().then(
        () => resolve(0),
        (err) => {
          process.stderr.write(`vela agent: shutdown failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.stderr.write(
      `vela agent listening on ${running.url} · storage ${running.engine.manager.storage.kind} · PostgreSQL ${running.engine.pg.bins.major}` +
        ` · main on port ${main?.port ?? '-'}` +
        (running.proxy ? ` · postgres proxy on ${running.proxy.host}:${running.proxy.port}` : '') +
        ` · ${tokenWhere}\n`,
    );
    if (signalled) onSignal(signalled);
  });
}
