import { z } from 'zod';
import type { Context } from 'probot';
import { branchName, duration } from '../core/api/index.ts';

export const CONFIG_FILE = 'vela.yml';
export const CONFIG_PATH = `.github/${CONFIG_FILE}`;

/** `.github/vela.yml`. Unknown keys are errors: a typo must not silently fall back to a default. */
export const appConfigSchema = z
  .object({
    parent: branchName.default('main'),
    ttl: duration.default('7d'),
    /** Create a branch when a PR opens (otherwise only on `/vela create`). */
    auto: z.boolean().default(true),
    /** Also branch draft PRs. */
    drafts: z.boolean().default(false),
    /** Only PRs carrying at least one of these labels get a branch; empty means every PR. */
    labels: z.array(z.string().min(1).max(100)).max(50).default([]),
    keepOnClose: z.boolean().default(false),
    commands: z.boolean().default(true),
    /** Also branch PRs from forks (their code then runs against a clone of the parent's data). */
    forks: z.boolean().default(false),
    /** Also report the branch as a check run `vela/branch` on the PR's head commit. */
    checkRun: z.boolean().default(false),
  })
  .strict();
export type AppConfig = z.infer<typeof appConfigSchema>;

export type ConfigResult = { ok: true; config: AppConfig } | { ok: false; problem: string };

/** Validates raw config (null when the file doesn't exist) and names every bad key. */
export function parseAppConfig(raw: unknown): ConfigResult {
  const parsed = appConfigSchema.safeParse(raw ?? {});
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `unknown key ${issue.keys.map((k) => `\`${k}\``).join(', ')} (allowed: ${Object.keys(appConfigSchema.shape).join(', ')})`;
    }
    const key = issue.path.length ? issue.path.join('.') : '(top level)';
    return `\`${key}\`: ${issue.message}`;
  });
  return { ok: false, problem: problems.join('; ') };
}

/** Reads the config through Probot, which takes it from the repository's default branch only. */
export async function loadAppConfig(context: Pick<Context, 'config'>): Promise<ConfigResult> {
  let raw: unknown;
  try {
    raw = await context.config(CONFIG_FILE);
  } catch (err) {
    const status = (err as { status?: number }).status;
    // Only a broken file is the repo's problem; a GitHub outage must surface as an error.
    if (status !== undefined && status >= 500) throw err;
    return { ok: false, problem: `cannot read it: ${(err as Error).message.replace(/^\[@probot\/octokit-plugin-config\]\s*/, '')}` };
  }
  return parseAppConfig(raw);
}
