import type { Branch } from '../core/types.ts';
import { formatBytes, formatDuration } from '../core/durations.ts';

/** Hidden marker that, together with the app's own login, identifies the one sticky comment per PR. */
export const STICKY_MARKER = '<!-- vela-branch:app -->';

export type StickyView =
  | { kind: 'creating'; name: string; parent: string }
  | { kind: 'branch'; branch: Branch }
  | { kind: 'kept'; branch: Branch }
  | { kind: 'destroyed'; name: string; reason: string }
  | { kind: 'missing'; name: string }
  | { kind: 'agent-down'; name: string }
  | { kind: 'error'; name: string; message: string }
  | { kind: 'config-error'; problem: string };

export interface StickyContext {
  now: Date;
  /** Head commit the comment was last updated for, shown so readers can tell it is current. */
  sha?: string;
}

const STATE_ICON: Record<string, string> = {
  creating: '⏳',
  ready: '🟢',
  stopped: '⏸️',
  deleting: '🗑️',
  failed: '🔴',
};

/** The sticky PR comment. Takes only fields it shows: a branch's `connection` (with its password) is never read. */
export function renderStickyComment(view: StickyView, ctx: StickyContext): string {
  const lines = [STICKY_MARKER, ...renderBody(view, ctx), '', footer(ctx)];
  return lines.join('\n');
}

function renderBody(view: StickyView, ctx: StickyContext): string[] {
  switch (view.kind) {
    case 'creating':
      return [
        `### ⏳ Database branch \`${view.name}\`: creating`,
        '',
        `Cloning \`${view.parent}\`. This comment updates when the branch is ready.`,
      ];
    case 'branch':
      return [heading(view.branch), '', ...table(view.branch, ctx.now), '', ...credentialsHelp(view.branch)];
    case 'kept':
      return [
        `### ⏸️ Database branch \`${view.branch.name}\`: kept after close`,
        '',
        `This PR is closed; the branch is kept (\`keepOnClose: true\`) ${expiry(view.branch, ctx.now)}.`,
        '',
        ...table(view.branch, ctx.now),
      ];
    case 'destroyed':
      return [`### 🗑️ Database branch \`${view.name}\`: destroyed`, '', view.reason];
    case 'missing':
      return [`### ⚪ Database branch \`${view.name}\`: none`, '', 'This PR has no database branch. Comment `/vela create` to make one.'];
    case 'agent-down':
      return [
        `### ⚠️ Database branch \`${view.name}\`: agent unreachable`,
        '',
        'The vela agent did not answer. The next push or `/vela status` retries.',
      ];
    case 'error':
      return [`### 🔴 Database branch \`${view.name}\`: failed`, '', `The vela agent answered: ${oneLine(view.message)}`];
    case 'config-error':
      return [
        '### ⚠️ vela: invalid `.github/vela.yml`',
        '',
        `${oneLine(view.problem)}`,
        '',
        'Fix the file on the default branch; nothing is done for this PR until then.',
      ];
  }
}

function heading(b: Branch): string {
  return `### ${STATE_ICON[b.state] ?? '❔'} Database branch \`${b.name}\`: ${b.state}`;
}

function table(b: Branch, now: Date): string[] {
  const rows: Array<[string, string]> = [
    ['State', b.state + (b.state === 'failed' && b.error ? ` (${oneLine(b.error)})` : '')],
    ['Parent', b.parent ? `\`${b.parent}\`` : '-'],
    ['Host', `\`${b.host}\``],
    ['Port', `\`${b.port}\``],
    ['Database', `\`${b.database}\``],
    ['User', `\`${b.user}\``],
    ['Age', age(b, now)],
    ['TTL', b.expiresAt ? `${expiry(b, now)} (${b.expiresAt})` : 'none'],
    ['Size', formatBytes(b.storage?.exclusiveBytes)],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)];
}

function credentialsHelp(b: Branch): string[] {
  return [
    '<details><summary>How to connect</summary>',
    '',
    'The password is never posted here.',
    '- In a workflow: `uses: vela/branch@v1` exports `DATABASE_URL` (and `PGHOST`, `PGPASSWORD`, …) for this PR.',
    `- Locally: \`vela-branch url ${b.name}\` prints the connection string (needs \`VELA_AGENT_URL\` and \`VELA_TOKEN\`).`,
    '',
    '</details>',
  ];
}

function footer(ctx: StickyContext): string {
  const at = ctx.sha ? ` for ${ctx.sha.slice(0, 7)}` : '';
  return `<sub>Updated${at} at ${ctx.now.toISOString()} · comment \`/vela help\` for commands</sub>`;
}

function age(b: Branch, now: Date): string {
  const created = Date.parse(b.createdAt);
  return Number.isNaN(created) ? '-' : formatDuration(Math.max(0, now.getTime() - created));
}

function expiry(b: Branch, now: Date): string {
  if (!b.expiresAt) return 'with no expiry';
  const left = Date.parse(b.expiresAt) - now.getTime();
  return left > 0 ? `expires in ${formatDuration(left)}` : 'expired';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
