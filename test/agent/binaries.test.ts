import { describe, expect, it } from 'vitest';
import { cp, lstat, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { embeddedBinDir, hydrateLibrarySymlinks, resolveBinaries } from '../../src/agent/postgres/binaries.ts';
import { processRunner } from '../../src/agent/runner.ts';

describe('embedded PostgreSQL binaries', () => {
  it('re-creates the library symlinks an install without scripts leaves out', async () => {
    const pkgRoot = dirname(dirname(embeddedBinDir()));
    const copy = await mkdtemp(join(tmpdir(), 'vela-pgpkg-'));
    try {
      await cp(join(pkgRoot, 'native', 'pg-symlinks.json'), join(copy, 'native', 'pg-symlinks.json'), { recursive: true });
      await cp(join(pkgRoot, 'native', 'lib'), join(copy, 'native', 'lib'), { recursive: true, verbatimSymlinks: true });
      await rm(join(copy, 'native', 'lib', 'libpq.so.5'));
      await rm(join(copy, 'native', 'lib', 'libpq.so'));
      expect(hydrateLibrarySymlinks(copy)).toBe(2);
      expect((await lstat(join(copy, 'native', 'lib', 'libpq.so.5'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(copy, 'native', 'lib', 'libpq.so.5'))).toBe('libpq.so.5.18');
      expect(hydrateLibrarySymlinks(copy)).toBe(0); // idempotent
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });

  it('finds PostgreSQL 18 by default and a system install with --pg-bin; names a bad directory', async () => {
    const embedded = await resolveBinaries(processRunner, null);
    expect(embedded).toMatchObject({ major: 18, embedded: true });
    await expect(resolveBinaries(processRunner, '/nonexistent/bin')).rejects.toThrow(
      /initdb is missing or not executable \(--pg-bin \/nonexistent\/bin\)/,
    );
  });
});
