import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { forbidden, unauthorized, unavailable, VelaError } from '../../core/errors.ts';
import type { Principal } from './principal.ts';

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** Maps a GitHub Actions job to access. Every condition given must hold; the first matching rule wins. */
export interface OidcRule {
  repository?: string;
  repository_owner?: string;
  /** Numeric ids survive a rename (a new repository under an old name gets a new id). */
  repository_id?: string;
  repository_owner_id?: string;
  /** Glob: `*` stands for exactly one whole path segment, e.g. "refs/heads/*" or "refs/pull/*\/merge". */
  ref?: string;
  /** Glob over the workflow file that runs, e.g. "octo/app/.github/workflows/ci.yml@refs/heads/main". */
  job_workflow_ref?: string;
  event_name?: string;
  scope: 'write' | 'read';
  prefixes?: string[];
  parents?: string[];
}

export interface OidcConfig {
  issuer: string;
  audience: string;
  /** Defaults to `${issuer}/.well-known/jwks`. */
  jwksUrl?: string;
  rules: OidcRule[];
}

export interface OidcOptions {
  /** Key source; tests inject createLocalJWKSet(...). Defaults to the remote JWKS. */
  keys?: JWTVerifyGetKey;
  clockToleranceSec?: number;
  /** GitHub signs with RS256. */
  algorithms?: string[];
  now?: () => Date;
}

export interface OidcVerifier {
  verify(jwt: string): Promise<Principal>;
}

export function jwksUrlFor(cfg: Pick<OidcConfig, 'issuer' | 'jwksUrl'>): string {
  return cfg.jwksUrl ?? `${cfg.issuer.replace(/\/+$/, '')}/.well-known/jwks`;
}

export function createOidcVerifier(cfg: OidcConfig, opts: OidcOptions = {}): OidcVerifier {
  const jwksUrl = jwksUrlFor(cfg);
  const keys = opts.keys ?? createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5000 });
  const rules = cfg.rules.map(compileRule);

  return {
    async verify(jwt: string): Promise<Principal> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(jwt, keys, {
          issuer: cfg.issuer,
          audience: cfg.audience,
          algorithms: opts.algorithms ?? ['RS256'],
          clockTolerance: opts.clockToleranceSec ?? 30,
          requiredClaims: ['exp'],
          currentDate: opts.now?.(),
        }));
      } catch (err) {
        throw explain(err, cfg, jwksUrl);
      }
      return authorize(payload, rules);
    },
  };
}

interface CompiledRule {
  rule: OidcRule;
  ref: RegExp | null;
  workflow: RegExp | null;
}

function compileRule(rule: OidcRule): CompiledRule {
  const glob = (g: string | undefined) => (g === undefined ? null : globToRegExp(g));
  return { rule, ref: glob(rule.ref), workflow: glob(rule.job_workflow_ref) };
}

/**
 * Why a glob is refused, or null. `*` must be a whole path segment: "refs/heads/main*" would let
 * "refs/heads/main-evil" in, so it is an error rather than a surprise.
 */
export function globProblem(glob: string): string | null {
  const bad = glob.split('/').find((seg) => seg.includes('*') && seg !== '*');
  if (bad === undefined) return null;
  return `"*" stands for one whole path segment (e.g. refs/heads/*, refs/pull/*/merge); "${bad}" mixes it into a name: spell the name out`;
}

/** `*` matches exactly one path segment (no "/"); everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const problem = globProblem(glob);
  if (problem) throw new Error(problem);
  const body = glob
    .split('/')
    .map((seg) => (seg === '*' ? '[^/]+' : seg.replace(/[.+?^${}()|[\]\\*]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}$`);
}

function claim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}

/** GitHub sends ids as strings; accept numbers too. */
function claimText(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

function sameName(a: string | undefined, b: string): boolean {
  // GitHub owner and repository names are case-insensitive.
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function matches(c: CompiledRule, payload: JWTPayload): boolean {
  const { rule } = c;
  if (rule.repository !== undefined && !sameName(claim(payload, 'repository'), rule.repository)) return false;
  if (rule.repository_owner !== undefined && !sameName(claim(payload, 'repository_owner'), rule.repository_owner)) {
    return false;
  }
  for (const id of ['repository_id', 'repository_owner_id'] as const) {
    if (rule[id] !== undefined && claimText(payload, id) !== String(rule[id])) return false;
  }
  if (c.ref) {
    const ref = claim(payload, 'ref');
    if (ref === undefined || !c.ref.test(ref)) return false;
  }
  if (c.workflow) {
    const wf = claim(payload, 'job_workflow_ref');
    if (wf === undefined || !c.workflow.test(wf)) return false;
  }
  if (rule.event_name !== undefined && claim(payload, 'event_name') !== rule.event_name) return false;
  return true;
}

function authorize(payload: JWTPayload, rules: CompiledRule[]): Principal {
  const repository = claim(payload, 'repository');
  const ref = claim(payload, 'ref');
  const event = claim(payload, 'event_name');
  const found = rules.find((r) => matches(r, payload));
  if (!found) {
    const who = repository ? `repository "${repository}"` : 'a token without a repository claim';
    throw forbidden(`no OIDC rule of this agent allows ${who} (ref ${ref ?? '-'}, event ${event ?? '-'})`);
  }
  const { rule } = found;
  return {
    actor: `oidc:${repository ?? claim(payload, 'sub') ?? '?'}@${ref ?? '?'} (${event ?? '?'})`,
    kind: 'oidc',
    scope: rule.scope,
    prefixes: rule.prefixes && rule.prefixes.length > 0 ? [...rule.prefixes] : null,
    parents: rule.parents && rule.parents.length > 0 ? [...rule.parents] : null,
    claims: { ...payload },
  };
}

/** Turns jose's failure into a 401 that says what to fix (or 503 when the issuer's keys are unreachable). */
function explain(err: unknown, cfg: OidcConfig, jwksUrl: string): VelaError {
  if (err instanceof VelaError) return err;
  if (err instanceof errors.JWTExpired) return unauthorized('OIDC token has expired; request a fresh one');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return unauthorized(`OIDC token audience does not match: this agent expects audience "${cfg.audience}"`);
      case 'iss':
        return unauthorized(`OIDC token issuer does not match: this agent expects issuer "${cfg.issuer}"`);
      case 'nbf':
        return unauthorized('OIDC token is not valid yet (nbf is in the future); check the clocks');
      case 'iat':
        return unauthorized('OIDC token has an invalid issued-at time (iat); check the clocks');
      default:
        return unauthorized(`OIDC token rejected: claim "${err.claim}" is missing or invalid`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return unauthorized('OIDC token signature verification failed');
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return unauthorized(`OIDC token is signed by a key not published at ${jwksUrl}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return unauthorized('OIDC token uses a signing algorithm not allowed');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return unauthorized('OIDC token is malformed');
  }
  // Anything else is the key fetch itself (timeout, network, bad JWKS document): not the caller's fault.
  return unavailable(`cannot fetch the OIDC signing keys from ${jwksUrl}; try again later`);
}
