import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml, YAMLError } from 'yaml';
import { z } from 'zod';
import { DURATION_RULE, parseDuration } from '../core/durations.ts';
import { BRANCH_NAME_RULE, isBranchName } from '../core/names.ts';
import { GITHUB_ACTIONS_ISSUER, globProblem } from './auth/oidc.ts';
import { cronProblem } from './cron.ts';
import { parseQuota, QUOTA_RULE } from './storage/quota.ts';
import { parseMemorySize, MEMORY_SIZE_RULE } from './lifecycle/policy.ts';

/**
 * The agent's configuration: one YAML file, then env, then flags (flags > env > file > defaults),
 * validated once at start. Every error names the key path and where the value came from.
 */

const PREFIX_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const prefix = z.string().regex(PREFIX_RE, 'expected a branch-name prefix (lowercase letters, digits, "-")');
const branchName = z.string().refine(isBranchName, BRANCH_NAME_RULE);
const pgMemory = z.string().regex(/^\d+(kB|MB|GB|TB)?$/, 'expected a PostgreSQL size such as 16MB');
const duration = z.string().refine((s) => parseDuration(s) !== null, DURATION_RULE);
const port = z.number().int().min(1).max(65535);
const githubId = z
  .union([z.number().int().positive(), z.string().regex(/^\d+$/, 'expected a numeric GitHub id')])
  .transform((v) => String(v));
const glob = z
  .string()
  .min(1)
  .superRefine((g, ctx) => {
    const problem = globProblem(g);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
const quota = z.union([z.string(), z.number(), z.null()]).transform((value, ctx) => {
  const bytes = value === null ? null : parseQuota(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: `${QUOTA_RULE} (at least 16M)` });
    return z.NEVER;
  }
  return bytes;
});
/** `0` (or "0") turns idle suspend off; anything else is a duration; the value becomes milliseconds or null. */
const suspendAfter = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (value === 0 || value === '0') return null;
  const ms = typeof value === 'string' ? parseDuration(value) : null;
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: `${DURATION_RULE}; or 0 to never suspend idle branches` });
    return z.NEVER;
  }
  return ms;
});
const memoryBudget = z.union([z.string(), z.number(), z.null()]).transform((value, ctx) => {
  const bytes = value === null ? null : parseMemorySize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: MEMORY_SIZE_RULE });
    return z.NEVER;
  }
  return bytes;
});
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(text: string): ListenAddress | null {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^\s:[\]]+):(\d{1,5})$/.exec(text);
  const [host, portText] = m ? [m[1], m[2]] : /^\d{1,5}$/.test(text) ? ['127.0.0.1', text] : [null, null];
  if (host === null) return null;
  const n = Number(portText);
  return n <= 65535 ? { host, port: n } : null;
}

const listen = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const parsed = parseListen(String(value));
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: 'expected HOST:PORT, e.g. 127.0.0.1:7070 or [::1]:7070' });
    return z.NEVER;
  }
  return parsed;
});

const tokenSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'expected 1-64 characters of letters, digits, _ . @ -'),
    token: z.string().min(16, 'expected at least 16 characters').optional(),
    tokenSha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits')
      .optional(),
    scope: z.enum(['admin', 'write', 'read']),
    prefixes: z.array(prefix).optional(),
    parents: z.array(branchName).optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.token === undefined) === (t.tokenSha256 === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of token or tokenSha256' });
    }
  });

const oidcRule = z
  .strictObject({
    repository: z
      .string()
      .regex(/^[^/\s]+\/[^/\s]+$/, 'expected OWNER/REPO')
      .optional(),
    repository_owner: z.string().min(1).optional(),
    repository_id: githubId.optional(),
    repository_owner_id: githubId.optional(),
    ref: glob.optional(),
    job_workflow_ref: glob.optional(),
    event_name: z.string().min(1).optional(),
    scope: z.enum(['write', 'read']),
    prefixes: z.array(prefix).optional(),
    parents: z.array(branchName).optional(),
  })
  .superRefine((r, ctx) => {
    // Any GitHub repository can mint a token for any audience, so a rule must pin the repository or owner.
    const pins = [r.repository, r.repository_owner, r.repository_id, r.repository_owner_id];
    if (pins.every((p) => p === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'a rule needs repository or repository_owner (or their ids: repository_id, repository_owner_id)',
      });
    }
  });

const boolText = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');

const schema = z.strictObject({
  dataDir: z.string().min(1).default('./.vela'),
  listen: listen.prefault('127.0.0.1:7070'),
  /** HTTPS for the API: PEM certificate chain and private key files. */
  tls: z
    .strictObject({ cert: z.string().min(1).nullable().default(null), key: z.string().min(1).nullable().default(null) })
    .prefault({})
    .superRefine((t, ctx) => {
      if ((t.cert === null) !== (t.key === null)) ctx.addIssue({ code: 'custom', message: 'set both cert and key, or neither' });
    }),
  /** Plain HTTP on a non-loopback listen address (TLS terminated in front of the agent). */
  insecureHttp: boolText.default(false),
  storage: z.enum(['auto', 'btrfs', 'zfs', 'reflink', 'copy']).default('auto'),
  pgBin: z.string().min(1).nullable().default(null),
  pgUser: z.string().min(1).default('vela'),
  publicHost: z.string().min(1).default('127.0.0.1'),
  pgListen: z.string().min(1).default('127.0.0.1'),
  ports: z
    .strictObject({ from: port.default(55000), to: port.default(55999) })
    .prefault({})
    .superRefine((p, ctx) => {
      if (p.from > p.to) ctx.addIssue({ code: 'custom', path: ['to'], message: `must be >= ports.from (${p.from})` });
    }),
  branch: z
    .strictObject({
      sharedBuffers: pgMemory.default('16MB'),
      maxConnections: z.number().int().min(5).max(10000).default(30),
      workMem: pgMemory.default('4MB'),
      defaultTtl: duration.nullable().default(null),
      /** Bytes a branch may write beyond what it shares with its parent; null = no quota. */
      quota: quota.prefault('10G'),
    })
    .prefault({}),
  /** Branches with no client connection this long are stopped (storage, port, credentials kept). */
  idle: z.strictObject({ suspendAfter: suspendAfter.prefault('15m') }).prefault({}),
  /** Running branches per host: a count and a memory budget; when full, the least recently used idle one is suspended. */
  capacity: z
    .strictObject({
      maxRunning: z.number().int().min(1, 'expected at least 1 (or null for no limit)').nullable().default(null),
      memoryBudget: memoryBudget.prefault(null),
    })
    .prefault({}),
  pool: z
    .strictObject({
      image: z.string().min(1).nullable().default(null),
      sizeGiB: z.number().positive().default(20),
    })
    .prefault({}),
  zfs: z.strictObject({ dataset: z.string().min(1).nullable().default(null) }).prefault({}),
  shutdown: z.strictObject({ stopBranches: z.boolean().default(false) }).prefault({}),
  /** One PostgreSQL port for every branch (src/agent/proxy); null = none, clients use each branch's port. */
  proxy: z
    .strictObject({
      listen: listen.nullable().default(null),
      /** Open client connections at most, across all branches. */
      maxClients: z.number().int().min(1).max(100_000).default(2000),
      /** Failed logins (bad password, unknown role or branch) per client address and window; over it, refused without a wake. */
      loginFailures: z
        .strictObject({
          max: z.number().int().min(1, 'expected at least 1').default(10),
          windowSeconds: z.number().int().min(1).max(86400).default(300),
        })
        .prefault({}),
    })
    .prefault({}),
  tokens: z
    .array(tokenSchema)
    .default([])
    .superRefine((tokens, ctx) => {
      const seen = new Set<string>();
      tokens.forEach((t, i) => {
        if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate token name "${t.name}"` });
        seen.add(t.name);
      });
    }),
  oidc: z
    .strictObject({
      issuer: httpUrl.default(GITHUB_ACTIONS_ISSUER),
      audience: z.string().min(1),
      jwksUrl: httpUrl.optional(),
      rules: z.array(oidcRule).min(1, 'expected at least one rule'),
    })
    .nullable()
    .default(null),
  /** Refused requests (401, 403) per client address and window; over it, 429 until the window ends. */
  rateLimit: z
    .strictObject({
      refusals: z.number().int().min(1).default(60),
      windowSeconds: z.number().int().min(1).max(86400).default(60),
    })
    .prefault({}),
  /** The audit file rotates past maxMiB; `keep` older files are kept. */
  audit: z.strictObject({ maxMiB: z.number().positive().default(32), keep: z.number().int().min(1).max(100).default(4) }).prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Directory with pg_dump/pg_restore/pg_basebackup for imports (else Debian's and PATH are searched). */
  clientBin: z.string().min(1).nullable().default(null),
  /** Masked parents rebuilt after every refresh of main: SQL files are relative to the config file. */
  templates: z
    .array(
      z.strictObject({
        name: branchName,
        from: branchName.default('main'),
        sql: z.array(z.string().min(1)).min(1, 'expected at least one SQL file'),
      }),
    )
    .default([]),
  refresh: z
    .strictObject({
      schedule: z
        .string()
        .refine((s) => cronProblem(s) === null, { error: 'expected a 5-field cron expression, e.g. "0 3 * * *"' })
        .nullable()
        .default(null),
    })
    .prefault({}),
});

export type AgentConfig = z.output<typeof schema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadConfigOptions {
  /** YAML file; falls back to env VELA_CONFIG; none = defaults + env + flags. */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** Parsed CLI flags by name ("data-dir" or "--data-dir"); flags not about config are ignored. */
  flags: Record<string, string | undefined>;
}

// Top-level keys that env and flags may set.
const OVERRIDES = [
  { key: 'dataDir', env: 'VELA_DATA_DIR', flag: 'data-dir' },
  { key: 'listen', env: 'VELA_LISTEN', flag: 'listen' },
  { key: 'storage', env: 'VELA_STORAGE', flag: 'storage' },
  { key: 'pgBin', env: 'VELA_PG_BIN', flag: 'pg-bin' },
  { key: 'publicHost', env: 'VELA_PUBLIC_HOST', flag: 'public-host' },
  { key: 'logLevel', env: 'VELA_LOG_LEVEL', flag: 'log-level' },
  { key: 'insecureHttp', env: 'VELA_INSECURE_HTTP', flag: 'insecure-http' },
] as const;

// Keys of `tls` that env and flags may set.
const TLS_OVERRIDES = [
  { key: 'cert', env: 'VELA_TLS_CERT', flag: 'tls-cert' },
  { key: 'key', env: 'VELA_TLS_KEY', flag: 'tls-key' },
] as const;

export function loadConfig(opts: LoadConfigOptions): AgentConfig {
  const file = opts.file ?? (opts.env.VELA_CONFIG || undefined);
  const fileLabel = file ? `config ${file}` : 'config';
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};

  // Where each overridden top-level key came from, so errors blame the env var or flag, not the file.
  const origin = new Map<string, string>();
  const flags = normalizeFlags(opts.flags);
  for (const o of OVERRIDES) {
    const fromEnv = opts.env[o.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      raw[o.key] = fromEnv;
      origin.set(o.key, `env ${o.env}`);
    }
    const fromFlag = flags.get(o.flag);
    if (fromFlag !== undefined && fromFlag !== '') {
      raw[o.key] = fromFlag;
      origin.set(o.key, `flag --${o.flag}`);
    }
  }
  for (const o of TLS_OVERRIDES) {
    const [value, from] = flags.get(o.flag) ? [flags.get(o.flag), `flag --${o.flag}`] : [opts.env[o.env], `env ${o.env}`];
    if (value === undefined || value === '') continue;
    const tls = raw.tls && typeof raw.tls === 'object' ? (raw.tls as Record<string, unknown>) : {};
    raw.tls = { ...tls, [o.key]: value };
    origin.set('tls', from);
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, fileLabel, origin)));
  }
  const cfg = { ...result.data, dataDir: resolve(result.data.dataDir) };
  if (!cfg.tls.cert && !cfg.insecureHttp && !isLoopback(cfg.listen.host)) {
    throw new ConfigError([
      `${origin.get('listen') ?? fileLabel}: listen: ${cfg.listen.host} is not a loopback address, so the API (and its tokens) would travel in clear text: set tls.cert and tls.key (--tls-cert/--tls-key) to serve HTTPS, or pass --insecure-http (insecureHttp: true) if something in front of the agent terminates TLS`,
    ]);
  }
  return cfg;
}

/** 127.0.0.0/8, ::1 and localhost: the only addresses plain HTTP may listen on without --insecure-http. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function normalizeFlags(flags: Record<string, string | undefined>): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(flags)) {
    const kebab = name.replace(/^-+/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    out.set(kebab, value);
  }
  return out;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`config ${file}: cannot read the file (${code})`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // Only the position: YAML's own message quotes the offending line, which may hold a token.
    if (err instanceof YAMLError) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
      throw new ConfigError([`config ${file}: invalid YAML${where} (${err.code})`]);
    }
    throw err;
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError([`config ${file}: expected a mapping of settings at the top level`]);
  }
  return { ...(doc as Record<string, unknown>) };
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, fileLabel: string, origin: Map<string, string>): string[] {
  const top = issue.path[0];
  const label = (typeof top === 'string' && origin.get(top)) || fileLabel;
  const at = (path: readonly PropertyKey[]) => (path.length ? path.map(String).join('.') : '(top level)');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${fileLabel}: ${at([...issue.path, key])}: unknown key`);
    case 'invalid_value':
      return [`${label}: ${at(issue.path)}: expected one of ${issue.values.map(String).join('|')}`];
    case 'invalid_type':
      return [`${label}: ${at(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`];
    default:
      return [`${label}: ${at(issue.path)}: ${issue.message}`];
  }
}
