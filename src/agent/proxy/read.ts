import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { announcedLength, ProtocolError } from './protocol.ts';

/** The peer closed or broke the connection before sending what was expected: nothing to answer. */
export class PeerGoneError extends Error {
  constructor(what: string) {
    super(`${what} closed the connection`);
    this.name = 'PeerGoneError';
  }
}

/** The client opened with a TLS handshake record (direct SSL, libpq 17+ sslnegotiation=direct). */
export class DirectTlsStart extends Error {
  /** What was read so far: the start of the ClientHello, to be handed to TLS. */
  bytes: Buffer = Buffer.alloc(0);
  constructor() {
    super('direct TLS handshake');
    this.name = 'DirectTlsStart';
  }
}

export interface Read {
  /** The bytes asked for. */
  data: Buffer;
  /** What arrived after them (kept for whoever reads next). */
  rest: Buffer;
}

/**
 * Reads from `socket` until `need(buffered)` returns a length that is buffered, never holding more
 * than `limit` bytes, for at most `timeoutMs`. Leaves the socket paused with no listener of its own,
 * so it can be wrapped in TLS or piped afterwards.
 */
export function readUntil(
  socket: Duplex,
  pending: Buffer,
  need: (buffered: Buffer) => number | null,
  o: { limit: number; timeoutMs: number; what: string },
): Promise<Read> {
  return new Promise<Read>((resolve, reject) => {
    let buf = pending;
    let settled = false;
    const done = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      if (err) return reject(err);
      const n = need(buf) as number;
      resolve({ data: buf.subarray(0, n), rest: buf.subarray(n) });
    };
    const check = () => {
      let n: number | null;
      try {
        n = need(buf);
      } catch (err) {
        if (err instanceof DirectTlsStart) err.bytes = buf;
        return done(err as Error);
      }
      if (n !== null && buf.length >= n) return done(null);
      if (buf.length >= o.limit) done(new ProtocolError('08P01', `${o.what} is longer than ${o.limit} bytes`));
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      check();
    };
    const onEnd = () => done(new PeerGoneError(o.what));
    const onError = () => done(new PeerGoneError(o.what));
    const timer = setTimeout(() => done(new ProtocolError('08006', `timed out waiting for the ${o.what}`)), o.timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
    check();
  });
}

/**
 * One length-prefixed first packet (SSLRequest, GSSENCRequest, CancelRequest or StartupMessage).
 * With `directTls`, a first byte 0x16 (a TLS handshake record) rejects with DirectTlsStart.
 */
export function readFirstPacket(socket: Duplex, pending: Buffer, timeoutMs: number, directTls = false): Promise<Read> {
  const need = (b: Buffer) => {
    if (directTls && b.length > 0 && b[0] === 0x16) throw new DirectTlsStart();
    return b.length < 4 ? null : announcedLength(b);
  };
  return readUntil(socket, pending, need, {
    limit: 10_000,
    timeoutMs,
    what: 'startup packet',
  });
}

/**
 * The socket as a stream that first yields `head` (bytes already read from it), for TLS to start
 * on: a TLSSocket over a net.Socket reads its handle directly and would never see them.
 */
export function replayed(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _enc, cb) => void socket.write(chunk, cb),
    final: (cb) => void socket.end(cb),
    destroy: (err, cb) => {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  stream.push(head);
  socket.on('data', (chunk: Buffer) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.once('end', () => stream.push(null));
  socket.once('close', () => stream.destroy());
  return stream;
}
