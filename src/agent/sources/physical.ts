import type { Runner } from '../runner.ts';
import type { OsUser } from '../postgres/os-user.ts';
import type { BuildProgress } from './progress.ts';
import { splitPassword } from './logical.ts';
import { toolRunOptions } from './tool-env.ts';

/**
 * pg_basebackup of the source into an empty volume, with standby.signal and primary_conninfo
 * written (-R) so the cluster starts as a streaming hot standby. Runs as the postgres OS user so
 * the files are its own.
 */
export async function cloneReplica(o: {
  runner: Runner;
  pgBasebackup: string;
  sourceUrl: string;
  dataDir: string;
  user: OsUser | null;
  progress: BuildProgress;
}): Promise<void> {
  const { url, password } = splitPassword(o.sourceUrl);
  o.progress.phase = 'base backup';
  await o.runner(
    [
      o.pgBasebackup,
      `--pgdata=${o.dataDir}`,
      '--wal-method=stream',
      '--write-recovery-conf',
      '--checkpoint=fast',
      '--progress',
      '--no-sync',
      `--dbname=${url}`,
    ],
    {
      ...toolRunOptions(o.user, password),
      onOutput: (chunk) => {
        const m = /(\d+)\/(\d+) kB/.exec(chunk);
        if (m) {
          o.progress.bytesDone = Number(m[1]) * 1024;
          o.progress.bytesTotal = Number(m[2]) * 1024;
        }
      },
    },
  );
}
