import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import {
  announcedLength,
  errorResponse,
  parseFirstPacket,
  ProtocolError,
  startupPacket,
  CANCEL_REQUEST_CODE,
} from '../../src/agent/proxy/protocol.ts';
import { targetOf } from '../../src/agent/proxy/route.ts';
import { CancelKeys } from '../../src/agent/proxy/cancel-keys.ts';
import { StartupWatcher } from '../../src/agent/proxy/startup-watch.ts';
import { readFirstPacket } from '../../src/agent/proxy/read.ts';
import { connectionInfo } from '../../src/agent/branches/connection.ts';
import type { BranchRecord } from '../../src/agent/branches/registry.ts';

const packet = (code: number, body = Buffer.alloc(0)) => {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, body]);
};
const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'ascii');
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
};

describe('proxy wire protocol', () => {
  it('parses a startup message and writes it back byte for byte', () => {
    const params = new Map([
      ['user', 'vela_owner'],
      ['database', 'pr-7'],
      ['application_name', 'psql'],
    ]);
    const bytes = startupPacket(3, 0, params);
    const parsed = parseFirstPacket(bytes);
    expect(parsed).toEqual({ kind: 'startup', major: 3, minor: 0, params });
    expect(startupPacket(3, 0, (parsed as { params: Map<string, string> }).params).equals(bytes)).toBe(true);
  });

  it('tells SSLRequest, GSSENCRequest and CancelRequest apart; refuses protocol 2, bad layouts and lengths', () => {
    expect(parseFirstPacket(packet(80877103))).toEqual({ kind: 'ssl' });
    expect(parseFirstPacket(packet(80877104))).toEqual({ kind: 'gssenc' });
    const key = Buffer.from([0, 0, 0x30, 0x39, 1, 2, 3, 4]);
    expect(parseFirstPacket(packet(CANCEL_REQUEST_CODE, key))).toMatchObject({ kind: 'cancel', key });
    expect(() => parseFirstPacket(packet(2 << 16, Buffer.from('user\0x\0\0')))).toThrow(/unsupported frontend protocol 2\.0/);
    expect(() => parseFirstPacket(packet(3 << 16, Buffer.from('user\0x\0')))).toThrow(/expected terminator/);
    expect(() => parseFirstPacket(packet(3 << 16, Buffer.from('database\0x\0\0')))).toThrow(/no PostgreSQL user name/);
    const tooLong = Buffer.alloc(4);
    tooLong.writeInt32BE(10_001, 0);
    expect(() => announcedLength(tooLong)).toThrow(ProtocolError);
  });

  it('an ErrorResponse carries severity FATAL, the SQLSTATE, message and hint', () => {
    const e = errorResponse({ sqlState: '3D000', message: 'branch "x" does not exist', hint: 'use the branch name' });
    expect(e.toString('latin1', 0, 1)).toBe('E');
    expect(e.readInt32BE(1)).toBe(e.length - 1);
    expect(e.subarray(5).toString('utf8').split('\0')).toEqual(
      expect.arrayContaining(['SFATAL', 'VFATAL', 'C3D000', 'Mbranch "x" does not exist', 'Huse the branch name']),
    );
  });

  it('reads a packet split over many chunks, keeps what follows, and bounds size and time', async () => {
    const s = new PassThrough();
    const bytes = startupPacket(3, 0, new Map([['user', 'u']]));
    const read = readFirstPacket(s, Buffer.alloc(0), 1000);
    for (const b of bytes.subarray(0, -1)) s.write(Buffer.from([b]));
    // The last byte arrives with the next message: that one is kept for whoever reads next.
    s.write(Buffer.concat([bytes.subarray(-1), Buffer.from('extra')]));
    const { data, rest } = await read;
    expect(data.equals(bytes)).toBe(true);
    expect(rest.toString()).toBe('extra');
    await expect(readFirstPacket(new PassThrough(), Buffer.alloc(0), 50)).rejects.toThrow(/timed out/);
  });
});

describe('proxy routing and cancel keys', () => {
  it('the database names the branch: BRANCH or BRANCH.DATABASE; anything else names none', () => {
    expect(targetOf('pr-7')).toEqual({ branch: 'pr-7', database: null });
    expect(targetOf('pr-7.app.v2')).toEqual({ branch: 'pr-7', database: 'app.v2' });
    for (const bad of ['Pr-7', 'pr_7', '', '.app', 'pr-7.', '-x']) expect(targetOf(bad)).toBeNull();
  });

  it('connection info goes through the proxy when it is on, and straight to the branch when not', () => {
    const rec = { name: 'pr-7', port: 55001, database: 'app', user: 'vela_owner', password: 'p@ss' } as BranchRecord;
    expect(connectionInfo(rec, '10.0.0.5').uri).toBe('postgresql://vela_owner:p%40ss@10.0.0.5:55001/app?sslmode=require');
    expect(connectionInfo(rec, { host: 'db.example', proxyPort: 6432 })).toMatchObject({
      port: 6432,
      database: 'pr-7',
      uri: 'postgresql://vela_owner:p%40ss@db.example:6432/pr-7?sslmode=require',
    });
  });

  it('finds the BackendKeyData in a branch stream cut anywhere, and stops watching at ReadyForQuery', () => {
    const key = Buffer.from([0, 0, 0, 42, 9, 8, 7, 6]);
    const stream = Buffer.concat([
      message('R', Buffer.from([0, 0, 0, 0])),
      message('S', Buffer.from('server_version\x0018\0')),
      message('K', key),
      message('Z', Buffer.from('I')),
      message('K', Buffer.alloc(8)), // a query's bytes after ReadyForQuery are not looked at
    ]);
    const keys = new CancelKeys();
    const logins: string[] = [];
    const w = new StartupWatcher({ key: (k) => keys.add(k, { branch: 'pr-7', port: 55001 }), login: (o) => logins.push(o) });
    for (let i = 0; i < stream.length; i += 3) w.feed(stream.subarray(i, i + 3));
    expect(w.done).toBe(true);
    expect(keys.size).toBe(1);
    expect(keys.lookup(key)).toEqual({ branch: 'pr-7', port: 55001 });
    expect(logins).toEqual(['authenticated']);
  });

  it('reports a login refused by the branch (class 28) and nothing for other errors before it', () => {
    const error = (code: string) => message('E', Buffer.from(`SFATAL\0VFATAL\0C${code}\0Mno\0\0`));
    const outcomes = (stream: Buffer) => {
      const got: string[] = [];
      const w = new StartupWatcher({ key: () => {}, login: (o) => got.push(o) });
      w.feed(stream);
      return got;
    };
    const sasl = message('R', Buffer.from([0, 0, 0, 10, ...Buffer.from('SCRAM-SHA-256\0\0')]));
    expect(outcomes(Buffer.concat([sasl, error('28P01')]))).toEqual(['refused']);
    expect(outcomes(error('28000'))).toEqual(['refused']); // no pg_hba line
    expect(outcomes(error('57P03'))).toEqual([]); // starting up: not the client's fault
    // After AuthenticationOk an error (e.g. 3D000 for a database inside the branch) is not a failed login.
    expect(outcomes(Buffer.concat([message('R', Buffer.alloc(4)), error('28000')]))).toEqual(['authenticated']);
  });
});
