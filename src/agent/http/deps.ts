import type { FastifyBaseLogger } from 'fastify';
import type { BranchManager } from '../branches/manager.ts';
import type { Lifecycle } from '../lifecycle/lifecycle.ts';
import type { RootBuilder } from '../branches/root-builder.ts';
import type { BranchRebaser } from '../branches/rebase.ts';
import type { BranchDiffer } from '../diff/branch-diff.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Principal } from '../auth/principal.ts';
import type { AuditLog } from '../audit.ts';
import type { Metrics, ProxyStats } from '../metrics.ts';
import type { RefusalLimiter } from '../rate-limit.ts';
import type { DoctorReport } from '../branches/doctor.ts';
import type { Endpoint } from '../branches/connection.ts';

/** What the HTTP server needs from the rest of the agent. */
export interface ServerDeps {
  manager: BranchManager;
  /** Capacity and wake for creates and starts; none = straight to the manager (inject tests). */
  lifecycle?: Lifecycle;
  /** The postgres proxy's counters for /metrics; none = no proxy. */
  proxyStats?: () => ProxyStats;
  builder: RootBuilder;
  /** None: rebase answers 503 (inject tests without an engine's). */
  rebaser?: BranchRebaser;
  /** GET /v1/branches/:name/diff; none = 501 (inject tests without an engine's). */
  differ?: BranchDiffer;
  auth: Authenticator;
  audit: AuditLog;
  metrics: Metrics;
  /** Refused requests per client address; none = no limit (inject tests). */
  limiter?: RefusalLimiter;
  publicHost: string;
  /** The postgres proxy's port (`proxy.listen`): handed-out connections go through it; none = direct ports. */
  proxyPort?: number | null;
  /** What recovery set aside (GET /v1/doctor); none = nothing to report (inject tests without an engine's). */
  doctor?: () => Promise<DoctorReport>;
  /** WAL held back per branch by its change capture slot (/metrics); none = no series. */
  captureLag?: () => Record<string, number>;
  /** PEM of the CA that issued branch postgres certificates (GET /v1/ca). */
  caPem?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  https?: { cert: Buffer; key: Buffer };
  version: string;
  /** A pino logger (the agent's); none = silent, for inject tests. */
  logger?: FastifyBaseLogger;
  /** Tests: check every success answer against the route table's schema; a mismatch is a 500. */
  checkAnswers?: boolean;
}

/** Where the answers tell clients to connect. */
export function endpointOf(d: Pick<ServerDeps, 'publicHost' | 'proxyPort'>): Endpoint {
  return { host: d.publicHost, proxyPort: d.proxyPort ?? null };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /** Set by routes for the audit record. */
    auditAction: string | null;
    auditBranch: string | null;
  }
  interface FastifyContextConfig {
    /** The route's operationId in the API table (src/core/api/routes.ts); absent for unknown routes. */
    operationId?: string;
  }
}
