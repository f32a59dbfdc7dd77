import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AdminToken {
  token: string;
  /** env: VELA_ADMIN_TOKEN; file: read from DIR/admin-token; generated: written there just now. */
  source: 'env' | 'file' | 'generated';
  /** The file holding it (print this, never the token), null when it came from the environment. */
  path: string | null;
}

export const ADMIN_TOKEN_FILE = 'admin-token';

/** VELA_ADMIN_TOKEN wins; otherwise DIR/admin-token, created (mode 0600) with a random token on first start. */
export async function resolveAdminToken(opts: { env: NodeJS.ProcessEnv; dataDir: string }): Promise<AdminToken> {
  const fromEnv = opts.env.VELA_ADMIN_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'env', path: null };

  const path = join(opts.dataDir, ADMIN_TOKEN_FILE);
  const existing = await readToken(path);
  if (existing) return { token: existing, source: 'file', path };

  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  try {
    // 'wx' so two agents starting at once never overwrite each other's token.
    await writeFile(path, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = await readToken(path);
    if (raced) return { token: raced, source: 'file', path };
    throw new Error(`admin token file ${path} exists but is empty`, { cause: err });
  }
  return { token, source: 'generated', path };
}

async function readToken(path: string): Promise<string | null> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text.length > 0 ? text : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
