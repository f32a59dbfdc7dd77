export interface ScaleArgs {
  /** Branches created from the parent. */
  branches: number;
  /** Parent size in decimal GB (pgbench -i scale ≈ 70 per GB). */
  sizeGb: number;
  /** Branches under pgbench at once (one rotation group). */
  running: number;
  /** A report row and a rotation round every `step` creates. */
  step: number;
  /** Seconds each rotation group runs pgbench. */
  pgbenchSeconds: number;
  /** Transactions per second per branch in a rotation group (pgbench -R). */
  branchRate: number;
  /** Idle/loaded create pairs (taking turns) on the parent. */
  loadPairs: number;
  /** pgbench clients on the parent for the loaded creates. */
  parentClients: number;
  /** Their rate in all (pgbench -R), the issue's ~850 tps; 0 = as fast as they go. */
  parentRate: number;
  /** First of the ports the bench uses: API, proxy, then one per branch. */
  portBase: number;
  /** branch.quota for the agent (`none` turns btrfs qgroups off); null: the agent's default. */
  quota: string | null;
  out: string;
  plot: string;
  keep: boolean;
}

export const SCALE_USAGE =
  'usage: node bench/scale.ts [--branches 300] [--size-gb 1] [--running 30] [--step 50] [--pgbench-seconds 10] [--branch-rate 20]' +
  ' [--load-pairs 10] [--parent-clients 2] [--parent-rate 850] [--port-base 32500] [--quota 10G|none] [--out bench/results/scale.json] [--plot docs/scale.png] [--keep]';

export function parseScaleArgs(argv: readonly string[]): ScaleArgs {
  const a: ScaleArgs = {
    branches: 300,
    sizeGb: 1,
    running: 30,
    step: 50,
    pgbenchSeconds: 10,
    branchRate: 20,
    loadPairs: 10,
    parentClients: 2,
    parentRate: 850,
    portBase: 32500,
    quota: null,
    out: 'bench/results/scale.json',
    plot: 'docs/scale.png',
    keep: false,
  };
  const ints: Record<string, keyof ScaleArgs> = {
    '--branches': 'branches',
    '--running': 'running',
    '--step': 'step',
    '--pgbench-seconds': 'pgbenchSeconds',
    '--branch-rate': 'branchRate',
    '--load-pairs': 'loadPairs',
    '--parent-clients': 'parentClients',
    '--port-base': 'portBase',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${SCALE_USAGE}`);
      return v;
    };
    if (flag in ints) {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive whole number\n${SCALE_USAGE}`);
      (a[ints[flag]] as number) = n;
    } else if (flag === '--parent-rate') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0)
        throw new Error(`--parent-rate: expected a whole number of transactions per second (0: unlimited)\n${SCALE_USAGE}`);
      a.parentRate = n;
    } else if (flag === '--size-gb') {
      const n = Number(value());
      if (!(n >= 0.015 && n <= 100)) throw new Error(`--size-gb: expected a number of GB between 0.015 and 100\n${SCALE_USAGE}`);
      a.sizeGb = n;
    } else if (flag === '--quota') a.quota = value();
    else if (flag === '--out') a.out = value();
    else if (flag === '--plot') a.plot = value();
    else if (flag === '--keep') a.keep = true;
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${SCALE_USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}\n${SCALE_USAGE}`);
  }
  if (a.portBase + a.branches + 60 > 65535) throw new Error(`--port-base: ${a.portBase} leaves no room for ${a.branches} branch ports`);
  a.running = Math.min(a.running, a.branches);
  a.step = Math.min(a.step, a.branches);
  return a;
}

/** pgbench -i scale for a parent of about `gb` decimal GB (one scale unit is ~15 MB of tables and indexes). */
export function pgbenchScale(gb: number): number {
  return Math.max(1, Math.round(gb * 70));
}
