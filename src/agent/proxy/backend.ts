import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { readUntil, PeerGoneError } from './read.ts';
import { sslRequestPacket } from './protocol.ts';

/**
 * The proxy's connection to a branch's postgres, on loopback. TLS when the client used TLS: the
 * branch serves the very certificate the proxy presented, so SCRAM channel binding
 * (tls-server-end-point, a hash of the server certificate) computed by the client matches what the
 * branch computes, and channel_binding=require works end to end. Plaintext when the client chose
 * plaintext: the branch then offers no channel binding, which is what that client expects.
 */
export async function connectBranch(o: {
  host: string;
  port: number;
  /** TLS to the branch, verified with this CA, expecting the proxy's own certificate (DER); null = plaintext. */
  tls: { ca: string; cert: Buffer } | null;
  timeoutMs: number;
}): Promise<Duplex> {
  const socket = await openTcp(o.host, o.port, o.timeoutMs);
  if (o.tls === null) return socket;
  const secure = await startTls(socket, o.tls.ca, o.timeoutMs);
  // null: the branch answered 'N' (no TLS); go on in plaintext over loopback, where no channel binding is offered.
  if (!secure) return socket;
  if (secure.getPeerCertificate(true).raw?.equals(o.tls.cert)) return secure;
  // A branch still serving an older certificate (re-issued when publicHost changed, the branch adopted
  // running): channel binding would fail, so speak plaintext over loopback, where none is offered.
  secure.destroy();
  return openTcp(o.host, o.port, o.timeoutMs);
}

async function startTls(socket: Socket, ca: string, timeoutMs: number): Promise<TLSSocket | null> {
  try {
    socket.write(sslRequestPacket());
    const answer = await readUntil(socket, Buffer.alloc(0), (b) => (b.length ? 1 : null), {
      limit: 1,
      timeoutMs,
      what: 'branch postgres',
    });
    if (answer.data[0] !== 0x53) return null;
    return await new Promise<TLSSocket>((resolve, reject) => {
      const secure = tlsConnect({ socket, ca, servername: 'localhost', minVersion: 'TLSv1.2' });
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new Error('TLS handshake with the branch timed out'));
      }, timeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', reject);
        resolve(secure);
      });
      secure.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    socket.destroy();
    throw err instanceof PeerGoneError ? new Error('the branch closed the connection during TLS negotiation') : err;
  }
}

function openTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends a CancelRequest to a branch as is (postgres takes it without TLS or authentication). */
export async function forwardCancel(o: { host: string; port: number; packet: Buffer; timeoutMs: number }): Promise<void> {
  const socket = await openTcp(o.host, o.port, o.timeoutMs);
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
    socket.end(o.packet);
    setTimeout(() => socket.destroy(), o.timeoutMs).unref();
  });
}
