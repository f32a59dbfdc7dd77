import { describe, expect, it } from 'vitest';
import { renderStickyComment, STICKY_MARKER } from '../../src/app/comment.ts';
import type { Branch } from '../../src/core/api/index.ts';

const now = new Date('2030-01-10T12:00:00.000Z');
const branch: Branch = {
  name: 'pr-7',
  parent: 'main',
  state: 'ready',
  host: 'db.internal',
  port: 6543,
  database: 'app',
  user: 'u_pr_7',
  createdAt: '2030-01-10T11:30:00.000Z',
  updatedAt: '2030-01-10T11:30:00.000Z',
  expiresAt: '2030-01-17T11:30:00.000Z',
  protected: false,
  labels: {},
  storage: { driver: 'btrfs', exclusiveBytes: 3 * 1024 * 1024 },
  timings: { createMs: 120 },
  connection: {
    host: 'db.internal',
    port: 6543,
    database: 'app',
    user: 'u_pr_7',
    password: 'hunter2-secret',
    uri: 'postgresql://u_pr_7:hunter2-secret@db.internal:6543/app',
  },
};

describe('renderStickyComment', () => {
  const body = renderStickyComment({ kind: 'branch', branch }, { now, sha: 'abcdef1234567' });

  it('starts with the hidden marker and shows state, parent, connection fields, age, TTL and size', () => {
    expect(body.startsWith(`${STICKY_MARKER}\n`)).toBe(true);
    expect(body).toContain('### 🟢 Database branch `pr-7`: ready');
    for (const row of [
      '| Parent | `main` |',
      '| Host | `db.internal` |',
      '| Port | `6543` |',
      '| Database | `app` |',
      '| User | `u_pr_7` |',
      '| Age | 30m |',
      '| Size | 3.0 MiB |',
    ]) {
      expect(body).toContain(row);
    }
    expect(body).toContain('| TTL | expires in 6d 23h (2030-01-17T11:30:00.000Z) |');
    expect(body).toContain('Updated for abcdef1 at 2030-01-10T12:00:00.000Z');
  });

  it('never contains the password or the URI, only how to get them', () => {
    expect(body).not.toContain('hunter2');
    expect(body).not.toContain('postgresql://');
    expect(body).toContain('`vela-branch url pr-7`');
    expect(body).toContain('`uses: vela/branch@v1`');
  });

  it('a failed branch shows its error; an expired one says so', () => {
    const failed = renderStickyComment(
      { kind: 'branch', branch: { ...branch, state: 'failed', error: 'out of\nspace', expiresAt: '2030-01-01T00:00:00Z' } },
      { now },
    );
    expect(failed).toContain('| State | failed (out of space) |');
    expect(failed).toContain('| TTL | expired');
  });

  it('agent down: says so without the agent URL, and that the next event retries', () => {
    const down = renderStickyComment({ kind: 'agent-down', name: 'pr-7' }, { now });
    expect(down).toContain('agent unreachable');
    expect(down).toContain('next push or `/vela status` retries');
  });
});
