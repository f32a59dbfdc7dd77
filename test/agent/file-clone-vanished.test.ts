import { describe, expect, it } from 'vitest';
import { onlyVanishedFiles } from '../../src/agent/storage/file-clone.ts';

describe('cp of a running cluster: which errors are files postgres removed mid-copy', () => {
  it('tolerates files that vanished (WAL temp files, dropped relations)', () => {
    expect(onlyVanishedFiles("cp: cannot stat '/p/main/pg_wal/xlogtemp.123': No such file or directory\n")).toBe(true);
    expect(onlyVanishedFiles("cp: cannot open '/p/main/base/5/16384' for reading: No such file or directory\n")).toBe(true);
  });

  it('fails on anything else, and on a mix', () => {
    expect(onlyVanishedFiles('')).toBe(false);
    expect(onlyVanishedFiles("cp: cannot create regular file '/p/x/base': Permission denied")).toBe(false);
    expect(onlyVanishedFiles("cp: error writing '/p/x/base/5/1': No space left on device")).toBe(false);
    expect(
      onlyVanishedFiles(
        "cp: cannot stat '/p/main/pg_wal/xlogtemp.1': No such file or directory\ncp: error writing '/p/x/f': No space left on device",
      ),
    ).toBe(false);
  });
});
