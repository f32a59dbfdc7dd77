import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AgentConfig } from './config.ts';
import { openEngine, engineOptionsFromConfig } from './engine.ts';
import type { Engine, EngineOptions } from './engine.ts';
import { buildServer } from './http/build-server.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { resolveAdminToken } from './auth/admin-token.ts';
import type { AdminToken } from './auth/admin-token.ts';
import { AuditLog } from './audit.ts';
import { Metrics } from './metrics.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { RefusalLimiter } from './rate-limit.ts';
import { unboundedWriters } from './auth/access.ts';
import { createLogger, engineLog } from './logger.ts';
import { VERSION } from '../core/version.ts';
import { cronMatches } from './cron.ts';
import type { Template } from './branches/root-builder.ts';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { PgProxy } from './proxy/proxy.ts';
import { lifecycleWaker } from './proxy/wake.ts';
import { probeHost } from './provisioner/credentials.ts';
import type { ListenAddress } from './config.ts';

/** Reads each template's SQL files (paths relative to the config file) once, at start. */
async function readTemplates(cfg: AgentConfig, configFile?: string): Promise<Template[]> {
  const base = configFile ? dirname(resolve(configFile)) : process.cwd();
  const out: Template[] = [];
  for (const t of cfg.templates) {
    const sql = [];
    for (const f of t.sql) {
      const path = resolve(base, f);
      const text = await readFile(path, 'utf8').catch(() => {
        throw new Error(`templates: ${t.name}: cannot read SQL file ${path}`);
      });
      sql.push({ name: f, sql: text });
    }
    out.push({ name: t.name, from: t.from, sql });
  }
  return out;
}

/** The API's certificate and key, read once at start (a bad path is one clear error). */
async function readTlsFiles(cfg: AgentConfig): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!cfg.tls.cert || !cfg.tls.key) return undefined;
  const read = (what: string, path: string) =>
    readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`tls.${what}: cannot read ${path} (${err.code ?? err.message})`, { cause: err });
    });
  return { cert: await read('cert', cfg.tls.cert), key: await read('key', cfg.tls.key) };
}

export interface RunningAgent {
  server: FastifyInstance;
  engine: Engine;
  url: string;
  adminToken: AdminToken;
  /** The postgres proxy's bound address; null when `proxy.listen` is not set. */
  proxy: ListenAddress | null;
  close(): Promise<void>;
}

const TTL_SWEEP_MS = 30_000;

/** Opens the engine, then serves the API; `close()` finishes in-flight requests before stopping. */
export async function startAgent(
  cfg: AgentConfig,
  opts: { env?: NodeJS.ProcessEnv; logDestination?: NodeJS.WritableStream; onStep?: EngineOptions['onStep']; configFile?: string } = {},
): Promise<RunningAgent> {
  const logger = createLogger(cfg.logLevel, opts.logDestination);
  const https = await readTlsFiles(cfg);
  for (const w of unboundedWriters(cfg)) logger.warn(`access: ${w}; give it prefixes to hold it to its own branches`);
  const templates = await readTemplates(cfg, opts.configFile);
  // Before anything touches the data dir: a second agent on it must change nothing.
  const lock = await lockDataDir(cfg.dataDir);
  let engine: Engine;
  try {
    engine = await openEngine({
      ...engineOptionsFromConfig(cfg),
      log: engineLog(logger),
      onStep: opts.onStep,
      templates,
    });
  } catch (err) {
    await lock.release();
    throw err;
  }
  let proxy: PgProxy | null = null;
  let proxyAddress: ListenAddress | null = null;
  if (cfg.proxy.listen) {
    proxy = new PgProxy({
      listen: cfg.proxy.listen,
      tls: engine.tls,
      waker: lifecycleWaker(engine),
      branchHost: probeHost(cfg.pgListen),
      maxClients: cfg.proxy.maxClients,
      loginFailures: cfg.proxy.loginFailures,
      log: engineLog(logger),
    });
    try {
      proxyAddress = await proxy.start();
    } catch (err) {
      await engine.close();
      await lock.release();
      throw new Error(`proxy.listen ${cfg.proxy.listen.host}:${cfg.proxy.listen.port}: ${(err as Error).message}`, { cause: err });
    }
  }
  const adminToken = await resolveAdminToken({ env: opts.env ?? process.env, dataDir: cfg.dataDir });
  const audit = new AuditLog(join(cfg.dataDir, 'state', 'audit.jsonl'), {
    maxBytes: cfg.audit.maxMiB * 1024 * 1024,
    keep: cfg.audit.keep,
  });
  const metrics = new Metrics();
  engine.lifecycle.onWake((seconds) => metrics.observeOperation('wake', seconds, true));
  engine.lifecycle.startSweeping();
  const server = buildServer({
    manager: engine.manager,
    lifecycle: engine.lifecycle,
    builder: engine.builder,
    rebaser: engine.rebaser,
    differ: engine.differ,
    auth: createAuthenticator({ tokens: cfg.tokens, adminToken: adminToken.token, oidc: cfg.oidc }),
    audit,
    metrics,
    limiter: new RefusalLimiter({ max: cfg.rateLimit.refusals, windowMs: cfg.rateLimit.windowSeconds * 1000 }),
    publicHost: cfg.publicHost,
    proxyPort: proxyAddress?.port ?? null,
    proxyStats: proxy ? () => proxy.stats() : undefined,
    caPem: engine.tls.caPem,
    captureLag: () => engine.changes.slotLag(),
    doctor: () => engine.doctor(),
    https,
    version: VERSION,
    logger,
  });
  const sweep = setInterval(() => {
    void engine.manager.expire().catch(() => {});
  }, TTL_SWEEP_MS);
  sweep.unref();
  const schedule = cfg.refresh.schedule;
  let lastMinute = '';
  const cron = setInterval(() => {
    const now = new Date();
    const minute = now.toISOString().slice(0, 16);
    if (!schedule || minute === lastMinute || !cronMatches(schedule, now)) return;
    lastMinute = minute;
    logger.info({ schedule }, 'scheduled refresh of main');
    void engine.builder
      .refresh()
      .catch((e) => logger.error({ error: (e as Error).message }, 'scheduled refresh failed; the previous main keeps serving'));
  }, 20_000);
  cron.unref();
  try {
    await server.listen({ host: cfg.listen.host, port: cfg.listen.port });
  } catch (err) {
    // The proxy's open port would keep a failed agent's process alive.
    await proxy?.close();
    await engine.close();
    await lock.release();
    throw err;
  }
  const addr = server.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.listen.port;
  const host = cfg.listen.host.includes(':') ? `[${cfg.listen.host}]` : cfg.listen.host;
  const scheme = cfg.tls.cert ? 'https' : 'http';
  let closing: Promise<void> | null = null;
  return {
    server,
    engine,
    url: `${scheme}://${host}:${port}`,
    adminToken,
    proxy: proxyAddress,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        clearInterval(cron);
        try {
          await proxy?.close();
          await server.close();
        } finally {
          // Whatever happened to the HTTP side, branches are stopped if the config says so.
          await engine.close({ stopBranches: cfg.shutdown.stopBranches });
          await audit.close();
          await lock.release();
          logger.info({ stopBranches: cfg.shutdown.stopBranches }, 'agent stopped');
        }
      })();
      return closing;
    },
  };
}
