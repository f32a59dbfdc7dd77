import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DURATION_BUCKETS, Metrics } from '../../src/agent/metrics.ts';
import { readCommitStats } from '../../src/agent/storage/btrfs-sysfs.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict parser of the Prometheus text format subset we emit; throws on any line it does not understand. */
function parse(text: string): { samples: Sample[]; types: Map<string, string>; helps: Set<string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.trimEnd().split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) {
      helps.add(m[1]);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      expect(types.has(m[1])).toBe(false);
      types.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let consumed = 0;
      for (let l = re.exec(m[2]); l; l = re.exec(m[2])) {
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        consumed = re.lastIndex;
      }
      if (consumed !== m[2].length) throw new Error(`bad labels: ${line}`);
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types, helps };
}

const find = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

const snapshot = { branchesByState: { ready: 3, failed: 1 }, pool: { usedBytes: 1024, freeBytes: 4096 } };

describe('Metrics', () => {
  it('renders gauges for branches and pool with HELP and TYPE', () => {
    const { samples, types, helps } = parse(new Metrics().render(snapshot));
    expect(find(samples, 'vela_branches', { state: 'ready' })).toBe(3);
    expect(find(samples, 'vela_branches', { state: 'failed' })).toBe(1);
    expect(find(samples, 'vela_branches', { state: 'stopped' })).toBe(0);
    expect(find(samples, 'vela_pool_bytes', { kind: 'used' })).toBe(1024);
    expect(find(samples, 'vela_pool_bytes', { kind: 'free' })).toBe(4096);
    expect(types.get('vela_branches')).toBe('gauge');
    expect(types.get('vela_operation_duration_seconds')).toBe('histogram');
    expect(types.get('vela_errors_total')).toBe('counter');
    for (const name of types.keys()) expect(helps.has(name)).toBe(true);
  });

  it('keeps cumulative histogram buckets, sum and count per operation', () => {
    const m = new Metrics();
    m.observeOperation('create', 0.08, true);
    m.observeOperation('create', 0.3, true);
    m.observeOperation('create', 400, false);
    m.observeOperation('reset', 2, true);
    const { samples } = parse(m.render(snapshot));
    const bucket = (op: string, le: string) => find(samples, 'vela_operation_duration_seconds_bucket', { op, le });
    expect(bucket('create', '0.05')).toBe(0);
    expect(bucket('create', '0.1')).toBe(1);
    expect(bucket('create', '0.5')).toBe(2);
    expect(bucket('create', String(DURATION_BUCKETS.at(-1)))).toBe(2);
    expect(bucket('create', '+Inf')).toBe(3);
    expect(find(samples, 'vela_operation_duration_seconds_sum', { op: 'create' })).toBeCloseTo(400.38);
    expect(find(samples, 'vela_operation_duration_seconds_count', { op: 'create' })).toBe(3);
    expect(find(samples, 'vela_operation_duration_seconds_count', { op: 'reset' })).toBe(1);
    expect(find(samples, 'vela_operations_total', { op: 'create', result: 'error' })).toBe(1);
    expect(find(samples, 'vela_operations_total', { op: 'create', result: 'ok' })).toBe(2);

    // Buckets never decrease as le grows.
    const creates = samples.filter((s) => s.name.endsWith('_bucket') && s.labels.op === 'create').map((s) => s.value);
    expect(creates).toEqual([...creates].sort((a, b) => a - b));
  });

  it('counts errors by code and escapes label values', () => {
    const m = new Metrics();
    m.countError('conflict');
    m.countError('conflict');
    m.countError('odd "code"\\x');
    const { samples } = parse(m.render(snapshot));
    expect(find(samples, 'vela_errors_total', { code: 'conflict' })).toBe(2);
    expect(find(samples, 'vela_errors_total', { code: 'odd "code"\\x' })).toBe(1);
  });

  it('renders change capture slot lag per branch as a gauge', () => {
    const { samples, types } = parse(new Metrics().render({ ...snapshot, captureLag: { 'pr-7': 312, 'qa-1': 0 } }));
    expect(types.get('vela_capture_slot_lag_bytes')).toBe('gauge');
    expect(find(samples, 'vela_capture_slot_lag_bytes', { branch: 'pr-7' })).toBe(312);
    expect(find(samples, 'vela_capture_slot_lag_bytes', { branch: 'qa-1' })).toBe(0);
  });
});

describe('btrfs trash', () => {
  it('renders deleted volumes waiting to be freed as a gauge, and no series where the driver has no trash', () => {
    const base = { branchesByState: {}, pool: { usedBytes: 0, freeBytes: 0 } };
    const { samples, types } = parse(new Metrics().render({ ...base, trashed: 3 }));
    expect(types.get('vela_btrfs_trash_volumes')).toBe('gauge');
    expect(samples.find((s) => s.name === 'vela_btrfs_trash_volumes')?.value).toBe(3);
    expect(parse(new Metrics().render({ ...base, trashed: null })).types.has('vela_btrfs_trash_volumes')).toBe(false);
  });
});

describe('btrfs commit stats', () => {
  it('reads the kernel commit_stats file and renders valid series; a cut file gives no series', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vela-commit-stats-'));
    try {
      // The format of /sys/fs/btrfs/<uuid>/commit_stats (Linux 6.x).
      await writeFile(
        join(dir, 'commit_stats'),
        'commits 42\ncur_commit_ms 0\nlast_commit_ms 12\nmax_commit_ms 1500\ntotal_commit_ms 3250\n',
      );
      const stats = await readCommitStats(dir);
      expect(stats).toEqual({ commits: 42, lastMs: 12, maxMs: 1500, totalMs: 3250 });
      const { samples, types } = parse(new Metrics().render({ branchesByState: {}, pool: { usedBytes: 0, freeBytes: 0 }, commits: stats }));
      const value = (name: string) => samples.find((s) => s.name === name)?.value;
      expect(value('vela_btrfs_commits_total')).toBe(42);
      expect(value('vela_btrfs_commit_seconds_total')).toBe(3.25);
      expect(value('vela_btrfs_commit_max_seconds')).toBe(1.5);
      expect(types.get('vela_btrfs_commits_total')).toBe('counter');
      await writeFile(join(dir, 'commit_stats'), 'commits 42\nlast_comm');
      expect(await readCommitStats(dir)).toBeNull();
      expect(await readCommitStats(join(dir, 'absent'))).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
