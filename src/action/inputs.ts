import { z } from 'zod';
import { branchName, duration } from '../core/api/index.ts';
import { defaultBranchName, type RunContext } from './context.ts';

export const COMMANDS = ['ensure', 'create', 'delete', 'reset', 'rebase', 'report', 'diff'] as const;
export type Command = (typeof COMMANDS)[number];

/** Every input of action.yml, typed and validated. Secrets stay in here; never log this object. */
export interface ActionInputs {
  command: Command;
  agentUrl: string | null;
  token: string | null;
  oidcAudience: string | null;
  githubToken: string | null;
  branch: string;
  parent: string | null;
  ttl: string | null;
  envVar: string;
  junit: string | null;
  comment: boolean;
  deleteOnComplete: boolean;
  maxFailures: number;
  reportKey: string;
  /** `report`: append the branch's schema and data diff (collapsed). */
  diff: boolean;
  /** `diff`, or `report` with `diff`: keys of changed rows sampled per table. */
  diffRows: number;
}

/** camelCase field → kebab-case input name, so errors name what the user wrote in the workflow. */
const INPUT_NAMES = {
  command: 'command',
  agentUrl: 'agent-url',
  token: 'token',
  oidcAudience: 'oidc-audience',
  githubToken: 'github-token',
  branch: 'branch',
  parent: 'parent',
  ttl: 'ttl',
  envVar: 'env-var',
  junit: 'junit',
  comment: 'comment',
  deleteOnComplete: 'delete-on-complete',
  maxFailures: 'max-failures',
  reportKey: 'report-key',
  diff: 'diff',
  diffRows: 'diff-rows',
} as const satisfies Record<keyof ActionInputs, string>;

const optional = <T extends z.ZodType>(schema: T) => z.union([z.literal('').transform(() => null), schema]);

// Same spellings core.getBooleanInput accepts (YAML 1.2 core schema).
const boolean = (fallback: boolean) =>
  z
    .enum(['', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE'], {
      error: 'must be true or false',
    })
    .transform((v) => (v === '' ? fallback : v.toLowerCase() === 'true'));

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http(s) URL such as https://vela.internal:7070');

const schema = z
  .object({
    command: z
      .enum(['', ...COMMANDS], { error: `must be one of ${COMMANDS.join(', ')}` })
      .transform((v): Command => (v === '' ? 'ensure' : v)),
    agentUrl: optional(httpUrl),
    token: optional(z.string()),
    oidcAudience: optional(z.string().max(256)),
    githubToken: optional(z.string()),
    branch: branchName,
    parent: optional(branchName),
    ttl: optional(duration),
    envVar: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name like DATABASE_URL'),
    junit: optional(z.string()),
    comment: boolean(true),
    deleteOnComplete: boolean(false),
    maxFailures: z
      .string()
      .transform((v) => (v === '' ? 20 : Number(v)))
      .pipe(z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0).max(1000)),
    reportKey: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 characters of letters, digits, "_", "." or "-"'),
    diff: boolean(false),
    diffRows: z
      .string()
      .transform((v) => (v === '' ? 0 : Number(v)))
      .pipe(
        z
          .number({ error: 'must be a whole number from 0 to 100' })
          .int('must be a whole number from 0 to 100')
          .min(0, 'must be a whole number from 0 to 100')
          .max(100, 'must be a whole number from 0 to 100'),
      ),
  })
  .superRefine((v, ctx) => {
    if (v.command !== 'report' && !v.agentUrl) {
      ctx.addIssue({ code: 'custom', path: ['agentUrl'], message: `required for command ${v.command}` });
    }
    if (v.command === 'report' && !v.junit) {
      ctx.addIssue({ code: 'custom', path: ['junit'], message: 'required for command report (a glob such as reports/**/*.xml)' });
    }
    if (v.command === 'report' && v.diff && !v.agentUrl) {
      ctx.addIssue({ code: 'custom', path: ['agentUrl'], message: 'required for report with diff: true (the diff comes from the agent)' });
    }
    if (v.token && v.oidcAudience) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'set either token or oidc-audience, not both' });
    }
  });

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Reads every input once (never at import) and validates them together, naming each bad input. */
export function readInputs(getInput: (name: string) => string, ctx: RunContext): ActionInputs {
  const raw = Object.fromEntries(Object.entries(INPUT_NAMES).map(([field, name]) => [field, getInput(name).trim()])) as Record<
    keyof ActionInputs,
    string
  >;
  raw.branch ||= defaultBranchName(ctx);
  raw.envVar ||= 'DATABASE_URL';
  raw.reportKey ||= ctx.job;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const field = issue.path[0] as keyof ActionInputs | undefined;
      const name = field ? INPUT_NAMES[field] : 'inputs';
      // Never echo the value of a secret input back into the log.
      const shown =
        field && !['token', 'githubToken'].includes(field) && raw[field] ? ` (got ${JSON.stringify(raw[field].slice(0, 80))})` : '';
      return `input \`${name}\`: ${issue.message}${shown}`;
    });
    throw new InputError(problems.join('; '));
  }
  return parsed.data;
}
