import type { Duplex } from 'node:stream';
import { announcedLength, ProtocolError } from './protocol.ts';

/** The peer closed or broke the connection before sending what was expected: nothing to answer. */
export class PeerGoneError extends Error {
  constructor(what: string) {
    super(`${what} closed the connection`);
    this.name = 'PeerGoneError';
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

/** One length-prefixed first packet (SSLRequest, GSSENCRequest, CancelRequest or StartupMessage). */
export function readFirstPacket(socket: Duplex, pending: Buffer, timeoutMs: number): Promise<Read> {
  return readUntil(socket, pending, (b) => (b.length < 4 ? null : announcedLength(b)), {
    limit: 10_000,
    timeoutMs,
    what: 'startup packet',
  });
}
