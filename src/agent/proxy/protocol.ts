/**
 * The few PostgreSQL wire-protocol messages the proxy reads or writes itself: the untyped first
 * packets a client sends (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage) and the
 * ErrorResponse it answers with. Everything after the startup message is spliced, never parsed.
 */

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
/** PostgreSQL's own MAX_STARTUP_PACKET_LENGTH: anything longer is refused, never buffered. */
export const MAX_STARTUP_LENGTH = 10_000;

export type FirstPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  /** `key`: the process id and secret key bytes, as BackendKeyData carried them (4 + 4..256 bytes). */
  | { kind: 'cancel'; key: Buffer; packet: Buffer }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

export class ProtocolError extends Error {
  /** SQLSTATE of the ErrorResponse the client gets. */
  readonly sqlState: string;
  constructor(sqlState: string, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.sqlState = sqlState;
  }
}

/** The length a packet announces in its first 4 bytes, checked against what postgres accepts. */
export function announcedLength(head: Buffer): number {
  const len = head.readInt32BE(0);
  if (len < 8 || len > MAX_STARTUP_LENGTH) throw new ProtocolError('08P01', `invalid length of startup packet (${len} bytes)`);
  return len;
}

/** Parses one whole first packet (length included). */
export function parseFirstPacket(packet: Buffer): FirstPacket {
  const code = packet.readInt32BE(4);
  if (code === SSL_REQUEST_CODE && packet.length === 8) return { kind: 'ssl' };
  if (code === GSSENC_REQUEST_CODE && packet.length === 8) return { kind: 'gssenc' };
  if (code === CANCEL_REQUEST_CODE) {
    // Protocol 3.2 allows secret keys up to 256 bytes; 3.0 has 4.
    if (packet.length < 16 || packet.length > 8 + 4 + 256) throw new ProtocolError('08P01', 'invalid length of cancel request packet');
    return { kind: 'cancel', key: Buffer.from(packet.subarray(8)), packet };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new ProtocolError('0A000', `unsupported frontend protocol ${major}.${minor}: the vela-branch proxy speaks protocol 3`);
  }
  return { kind: 'startup', major, minor, params: parseParams(packet.subarray(8)) };
}

function parseParams(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let at = 0;
  const cstring = (): string => {
    const end = body.indexOf(0, at);
    if (end < 0) throw new ProtocolError('08P01', 'invalid startup packet layout: expected terminator as last byte');
    const s = body.toString('utf8', at, end);
    at = end + 1;
    return s;
  };
  for (;;) {
    const name = cstring();
    if (name === '') break;
    params.set(name, cstring());
  }
  if (at !== body.length) throw new ProtocolError('08P01', 'invalid startup packet layout: expected terminator as last byte');
  if (!params.get('user')) throw new ProtocolError('28000', 'no PostgreSQL user name specified in startup packet');
  return params;
}

/** A StartupMessage with these parameters (order kept), for forwarding after the database is rewritten. */
export function startupPacket(major: number, minor: number, params: Map<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of params) parts.push(Buffer.from(`${k}\0${v}\0`, 'utf8'));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE((major << 16) | minor, 4);
  return Buffer.concat([head, body]);
}

/** The 8-byte SSLRequest the proxy sends a branch to speak TLS to it. */
export function sslRequestPacket(): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(SSL_REQUEST_CODE, 4);
  return b;
}

/** A FATAL ErrorResponse: what psql prints as `FATAL:  message` (plus DETAIL and HINT lines). */
export function errorResponse(e: { sqlState: string; message: string; detail?: string; hint?: string }): Buffer {
  const fields: [string, string][] = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', e.sqlState],
    ['M', e.message],
  ];
  if (e.detail) fields.push(['D', e.detail]);
  if (e.hint) fields.push(['H', e.hint]);
  const body = Buffer.concat([...fields.map(([t, v]) => Buffer.from(`${t}${v.replace(/\0/g, '')}\0`, 'utf8')), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'ascii');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}
