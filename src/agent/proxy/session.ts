import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { LogFn } from '../logger.ts';
import { VelaError } from '../../core/errors.ts';
import { connectBranch, forwardCancel } from './backend.ts';
import type { CancelKeys } from './cancel-keys.ts';
import { StartupWatcher } from './startup-watch.ts';
import type { LoginGuard } from './login-guard.ts';
import { errorResponse, parseFirstPacket, ProtocolError, startupPacket } from './protocol.ts';
import type { FirstPacket } from './protocol.ts';
import { DirectTlsStart, PeerGoneError, readFirstPacket, replayed } from './read.ts';
import { SCHEME_HINT, targetOf } from './route.ts';
import type { BranchWaker } from './wake.ts';

export interface SessionDeps {
  secureContext: SecureContext;
  /** PEM of the agent's CA, to verify the branch when the proxy speaks TLS to it, and the certificate (DER) both present. */
  caPem: string;
  certDer: Buffer;
  waker: BranchWaker;
  cancelKeys: CancelKeys;
  /** Failed logins per client address: over the limit, nothing is woken for it. */
  logins: LoginGuard;
  /** Where branch postgres listens, as seen from the agent (loopback unless pgListen says otherwise). */
  branchHost: string;
  startupTimeoutMs: number;
  connectTimeoutMs: number;
  log: LogFn;
  /** A client is spliced to `branch`, has logged in to it (the branch said AuthenticationOk), has left it. */
  opened(branch: string): void;
  authenticated(branch: string): void;
  closed(branch: string, authenticated: boolean): void;
  /** A client was turned away with this SQLSTATE (for /metrics). */
  refused(sqlState: string): void;
}

type Startup = Extract<FirstPacket, { kind: 'startup' }>;

/** One client connection: negotiate, find and wake the branch, then splice until either side closes. */
export async function runSession(client: Socket, d: SessionDeps): Promise<void> {
  // The stream the client is on now: the socket, or TLS over it once negotiated (errors go there).
  const at: { sock: Duplex } = { sock: client };
  try {
    const first = await negotiate(client, d, at);
    if (first.packet.kind === 'cancel') return await cancel(first.packet, d, client);
    await proxyStartup(at.sock, first.packet, first.rest, first.tls, d, client.remoteAddress);
  } catch (err) {
    if (err instanceof PeerGoneError) return void client.destroy();
    const e = toClientError(err);
    if (e.log) d.log('warn', `proxy: ${e.log}`);
    d.refused(e.sqlState);
    refuse(at.sock, e);
  }
}

/** Reads first packets until a StartupMessage or CancelRequest, answering SSLRequest and GSSENCRequest. */
async function negotiate(client: Socket, d: SessionDeps, at: { sock: Duplex }) {
  let tls = false;
  let pending = Buffer.alloc(0);
  for (let round = 0; round < 3; round++) {
    let read;
    try {
      read = await readFirstPacket(at.sock, pending, d.startupTimeoutMs, !tls);
    } catch (err) {
      if (!(err instanceof DirectTlsStart)) throw err;
      // Direct SSL (sslnegotiation=direct): the handshake starts at once, ALPN "postgresql" required as postgres does.
      const secure = await startTls(replayed(client, err.bytes), d);
      at.sock = secure;
      if (secure.alpnProtocol !== 'postgresql') {
        // Answered inside TLS, as postgres does: a direct TLS client must offer ALPN "postgresql".
        throw new ProtocolError('08P01', 'received direct SSL connection request without ALPN protocol negotiation extension');
      }
      tls = true;
      pending = Buffer.alloc(0);
      continue;
    }
    const { data, rest } = read;
    const packet = parseFirstPacket(data);
    if (packet.kind === 'startup' || packet.kind === 'cancel') return { packet, rest, tls };
    if (tls) throw new ProtocolError('08P01', 'unsupported encryption request inside TLS');
    // Bytes sent before the TLS handshake could be injected by anyone on the path (CVE-2021-23214).
    if (rest.length) throw new ProtocolError('08P01', 'received unencrypted data after SSL or GSSAPI encryption request');
    if (packet.kind === 'gssenc') {
      at.sock.write('N'); // no GSSAPI encryption: libpq goes on with SSL or plaintext
      continue;
    }
    at.sock.write('S');
    at.sock = await startTls(client, d);
    tls = true;
    pending = Buffer.alloc(0);
  }
  throw new ProtocolError('08P01', 'expected a startup message after the encryption requests');
}

function startTls(client: Duplex, d: SessionDeps): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new TLSSocket(client, { isServer: true, secureContext: d.secureContext, ALPNProtocols: ['postgresql'] });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new PeerGoneError('TLS handshake (timeout): client'));
    }, d.startupTimeoutMs);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
    const onError = () => {
      clearTimeout(timer);
      secure.destroy();
      reject(new PeerGoneError('TLS handshake: client'));
    };
    secure.once('error', onError);
  });
}

async function cancel(packet: Extract<FirstPacket, { kind: 'cancel' }>, d: SessionDeps, client: Socket): Promise<void> {
  const target = d.cancelKeys.lookup(packet.key);
  // Postgres answers a cancel request with nothing, whatever the outcome: so does the proxy.
  client.end();
  if (!target) return;
  await forwardCancel({ host: d.branchHost, port: target.port, packet: packet.packet, timeoutMs: d.connectTimeoutMs }).catch((err) =>
    d.log('warn', `proxy: cancel request for ${target.branch} not delivered: ${(err as Error).message}`),
  );
}

async function proxyStartup(
  sock: Duplex,
  s: Startup,
  rest: Buffer,
  tls: boolean,
  d: SessionDeps,
  address: string | undefined,
): Promise<void> {
  const retry = d.logins.retryAfter(address);
  if (retry !== null) {
    throw new ClientError(
      '28000',
      `too many failed logins from ${address ?? 'this address'} through the vela-branch proxy; try again in ${retry} s`,
    );
  }
  // libpq's own default: no database means the user name.
  const asked = s.params.get('database') || s.params.get('user') || '';
  const target = targetOf(asked);
  if (!target) throw new ClientError('3D000', `database "${clip(asked)}" does not name a branch`, SCHEME_HINT);
  const wakeStarted = Date.now();
  const rec = await d.waker.wake(target.branch).catch((err: unknown) => {
    // Guessing branch names counts like guessing passwords.
    if (err instanceof VelaError && err.status === 404) d.logins.failed(address);
    throw err;
  });
  const wakeMs = Date.now() - wakeStarted;
  if (wakeMs > 100) d.log('info', `proxy: woke branch ${rec.name} for a client in ${wakeMs} ms`, { branch: rec.name, wakeMs });
  const params = new Map(s.params);
  params.set('database', target.database ?? rec.database);
  let backend: Duplex;
  try {
    backend = await connectBranch({
      host: d.branchHost,
      port: rec.port,
      tls: tls ? { ca: d.caPem, cert: d.certDer } : null,
      timeoutMs: d.connectTimeoutMs,
    });
  } catch (err) {
    throw new ClientError('57P03', `branch "${rec.name}" is not accepting connections`, undefined, (err as Error).message);
  }
  // The client gave up while its branch woke: nothing to splice.
  if (sock.destroyed) return void backend.destroy();
  backend.write(startupPacket(s.major, s.minor, params));
  if (rest.length) backend.write(rest);
  splice(sock, backend, { branch: rec.name, port: rec.port, address }, d);
}

function splice(client: Duplex, backend: Duplex, to: { branch: string; port: number; address: string | undefined }, d: SessionDeps): void {
  const { branch, port } = to;
  let cancelHandle: string | null = null;
  const watcher = new StartupWatcher({
    key: (key) => (cancelHandle = d.cancelKeys.add(key, { branch, port })),
    login: (outcome) => {
      if (outcome === 'refused') d.logins.failed(to.address);
      else d.authenticated(branch);
    },
  });
  const watch = (chunk: Buffer) => {
    watcher.feed(chunk);
    if (watcher.done) backend.off('data', watch);
  };
  backend.on('data', watch);
  d.opened(branch);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    client.destroy();
    backend.destroy();
    if (cancelHandle) d.cancelKeys.remove(cancelHandle);
    d.closed(branch, watcher.authenticated);
  };
  for (const s of [client, backend]) {
    s.once('close', close);
    s.on('error', close);
  }
  backend.pipe(client);
  client.pipe(backend);
}

class ClientError extends Error {
  readonly sqlState: string;
  readonly hint?: string;
  /** For the agent's log only (may name internals); never sent to the client. */
  readonly internal?: string;
  constructor(sqlState: string, message: string, hint?: string, internal?: string) {
    super(message);
    this.sqlState = sqlState;
    this.hint = hint;
    this.internal = internal;
  }
}

/** Any failure as the ErrorResponse fields a client sees, and whether the agent should log it. */
function toClientError(err: unknown): { sqlState: string; message: string; hint?: string; log: string | null } {
  if (err instanceof ClientError) {
    return { sqlState: err.sqlState, message: err.message, hint: err.hint, log: err.internal ? `${err.message}: ${err.internal}` : null };
  }
  if (err instanceof ProtocolError) return { sqlState: err.sqlState, message: err.message, log: null };
  if (err instanceof VelaError) {
    if (err.status === 404) return { sqlState: '3D000', message: err.message, hint: SCHEME_HINT, log: null };
    const sqlState = err.code === 'capacity' ? '53300' : '57P03';
    return { sqlState, message: err.message, log: `refused a client: ${err.message}` };
  }
  // Unexpected: the client learns only that the branch could not be reached; the log has the reason.
  return { sqlState: '57P03', message: 'the vela-branch proxy could not reach the branch', log: `unexpected: ${(err as Error).message}` };
}

function refuse(sock: Duplex, e: { sqlState: string; message: string; hint?: string }): void {
  if (sock.destroyed) return;
  sock.end(errorResponse(e));
  setTimeout(() => sock.destroy(), 1000).unref();
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
