import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal, Scope } from './principal.ts';

/** One entry of `tokens:` in the agent config. Exactly one of token / tokenSha256 is set (config validates). */
export interface StaticTokenConfig {
  name: string;
  token?: string;
  /** Hex sha256 of the token, so the config file need not hold the secret itself. */
  tokenSha256?: string;
  scope: Scope;
  prefixes?: string[];
  parents?: string[];
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

export const ADMIN_ACTOR = 'admin';

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function digestOf(cfg: StaticTokenConfig): Buffer {
  if (cfg.tokenSha256 !== undefined) return Buffer.from(cfg.tokenSha256.toLowerCase(), 'hex');
  if (cfg.token !== undefined) return sha256(cfg.token);
  throw new Error(`token "${cfg.name}" has neither token nor tokenSha256`);
}

/**
 * Looks bearer tokens up among the configured ones. Both sides are reduced to sha256 digests
 * (equal length) and compared with timingSafeEqual; every entry is compared so the time taken
 * does not depend on which entry (if any) matched.
 */
export class StaticTokens {
  private readonly entries: Entry[];

  constructor(tokens: readonly StaticTokenConfig[], adminToken?: string | null) {
    this.entries = tokens.map((cfg) => ({
      digest: digestOf(cfg),
      principal: {
        actor: `token:${cfg.name}`,
        kind: 'token',
        scope: cfg.scope,
        prefixes: cfg.prefixes && cfg.prefixes.length > 0 ? [...cfg.prefixes] : null,
        parents: cfg.parents && cfg.parents.length > 0 ? [...cfg.parents] : null,
      },
    }));
    if (adminToken) {
      this.entries.push({
        digest: sha256(adminToken),
        principal: { actor: ADMIN_ACTOR, kind: 'token', scope: 'admin', prefixes: null, parents: null },
      });
    }
  }

  /** The principal for this token, or null when it matches none. */
  verify(token: string): Principal | null {
    const presented = sha256(token);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (entry.digest.length === presented.length && timingSafeEqual(entry.digest, presented) && !found) {
        found = entry.principal;
      }
    }
    return found ? structuredClone(found) : null;
  }
}
