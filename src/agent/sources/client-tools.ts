import { accessSync, constants, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';

export interface ClientTool {
  path: string;
  major: number;
}

/** Directories that may hold PostgreSQL client tools: the configured one, Debian's per-version dirs, PATH. */
export function candidateDirs(configured: string[] = []): string[] {
  const debian = (() => {
    try {
      return readdirSync('/usr/lib/postgresql')
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
        .map((d) => `/usr/lib/postgresql/${d}/bin`);
    } catch {
      return [];
    }
  })();
  return [...configured, ...debian, ...(process.env.PATH ?? '').split(':').filter(Boolean)];
}

/** All copies of `tool` found, newest major first. */
export async function findTools(runner: Runner, tool: string, dirs: string[]): Promise<ClientTool[]> {
  const seen = new Set<string>();
  const out: ClientTool[] = [];
  for (const dir of dirs) {
    const path = join(dir, tool);
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const r = await runner([path, '--version'], { allowFailure: true });
    const m = /(\d+)(?:\.\d+)?/.exec(r.stdout);
    if (r.code === 0 && m) out.push({ path, major: Number(m[1]) });
  }
  return out.sort((a, b) => b.major - a.major);
}
