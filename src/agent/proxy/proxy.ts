import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { ListenAddress } from '../config.ts';
import type { LogFn } from '../logger.ts';
import type { PostgresTls } from '../postgres/tls.ts';
import type { ProxyStats } from '../metrics.ts';
import { CancelKeys } from './cancel-keys.ts';
import { LoginGuard } from './login-guard.ts';
import { errorResponse } from './protocol.ts';
import { runSession } from './session.ts';
import type { BranchWaker } from './wake.ts';

export interface ProxyOptions {
  listen: ListenAddress;
  /** The certificate branch postgres serves: the proxy presents the same one (channel binding, verify-full). */
  tls: PostgresTls;
  waker: BranchWaker;
  /** Where branch postgres listens, from the agent (see probeHost). */
  branchHost: string;
  /** Open client connections at most; more get FATAL 53300 at once. */
  maxClients: number;
  /** Failed logins per client address and window (config `proxy.loginFailures`); over it the proxy refuses the address. */
  loginFailures: { max: number; windowSeconds: number };
  startupTimeoutMs?: number;
  connectTimeoutMs?: number;
  log: LogFn;
}

/**
 * One PostgreSQL-protocol port for every branch (`proxy.listen`): reads the startup message, finds
 * the branch from its database name (route.ts), wakes it, then splices bytes both ways so the
 * branch's own authentication runs end to end. The proxy never sees a password.
 */
export class PgProxy {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
  private readonly perBranch = new Map<string, number>();
  private readonly cancelKeys = new CancelKeys();
  private sessions = 0;
  private readonly refusals = new Map<string, number>();

  private readonly o: ProxyOptions;

  constructor(o: ProxyOptions) {
    this.o = o;
  }

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  async start(): Promise<ListenAddress> {
    const [cert, key] = await Promise.all([readFile(this.o.tls.certFile), readFile(this.o.tls.keyFile)]);
    const secureContext = createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    const deps = {
      secureContext,
      caPem: this.o.tls.caPem,
      certDer: new X509Certificate(cert).raw,
      waker: this.o.waker,
      cancelKeys: this.cancelKeys,
      logins: new LoginGuard({ max: this.o.loginFailures.max, windowMs: this.o.loginFailures.windowSeconds * 1000 }),
      branchHost: this.o.branchHost,
      startupTimeoutMs: this.o.startupTimeoutMs ?? 15_000,
      connectTimeoutMs: this.o.connectTimeoutMs ?? 10_000,
      log: this.o.log,
      opened: (b: string) => {
        this.sessions++;
        this.count(b, +1);
      },
      refused: (sqlState: string) => this.refusals.set(sqlState, (this.refusals.get(sqlState) ?? 0) + 1),
      authenticated: (b: string) => this.o.waker.touch(b),
      closed: (b: string, authenticated: boolean) => {
        this.count(b, -1);
        if (authenticated) this.o.waker.touch(b);
      },
    };
    const server = createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => {}); // a reset client is not an agent error
      if (this.clients.size >= this.o.maxClients) {
        deps.refused('53300');
        socket.end(errorResponse({ sqlState: '53300', message: `too many clients of the vela-branch proxy (${this.o.maxClients})` }));
        return;
      }
      this.clients.add(socket);
      socket.once('close', () => this.clients.delete(socket));
      socket.setKeepAlive(true, 60_000);
      void runSession(socket, deps);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.o.listen.host, port: this.o.listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? { host: this.o.listen.host, port: addr.port } : this.o.listen;
    this.o.log('info', `postgres proxy listening on ${bound.host}:${bound.port}`, { proxy: bound });
    return bound;
  }

  /** What /metrics shows about the proxy. */
  stats(): ProxyStats {
    return { clients: this.clients.size, sessions: this.sessions, refusals: Object.fromEntries(this.refusals) };
  }

  /** Proxied clients of `branch` right now. */
  connections(branch: string): number {
    return this.perBranch.get(branch) ?? 0;
  }

  /** Stops listening and cuts every proxied connection (they die with the agent anyway). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of this.clients) c.destroy();
    await stopped;
  }

  private count(branch: string, delta: number): void {
    const n = (this.perBranch.get(branch) ?? 0) + delta;
    if (n > 0) this.perBranch.set(branch, n);
    else this.perBranch.delete(branch);
  }
}
