export interface BenchArgs {
  /** Target parent sizes in decimal MB (10^6 bytes), smallest first. */
  sizes: number[];
  /** Timed runs per operation (after one untimed warm-up of branch create/delete). */
  runs: number;
  /** Runs of the O(size) operations (WAL_LOG template, logical copy) for parents of 500 MB and more. */
  slowRuns: number;
  out: string;
  /** Keep the data dir (pool, logs) for inspection instead of removing it. */
  keep: boolean;
}

export const USAGE = 'usage: node bench/create.ts [--sizes 100,1000] [--runs 7] [--slow-runs 3] [--out bench/results/latest.json] [--keep]';

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { sizes: [100, 1000], runs: 7, slowRuns: 3, out: 'bench/results/latest.json', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--sizes':
        args.sizes = value()
          .split(',')
          .map((s) => positiveInt(s.trim(), flag))
          .sort((a, b) => a - b);
        break;
      case '--runs':
        args.runs = positiveInt(value(), flag);
        break;
      case '--slow-runs':
        args.slowRuns = positiveInt(value(), flag);
        break;
      case '--out':
        args.out = value();
        break;
      case '--keep':
        args.keep = true;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${flag}\n${USAGE}`);
    }
  }
  if (args.sizes.length === 0) throw new Error(`--sizes needs at least one size\n${USAGE}`);
  return args;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: "${text}" is not a positive whole number\n${USAGE}`);
  return n;
}
