import type { Branch, DiffResult } from '../core/api/index.ts';
import { GITHUB_COMMENT_LIMIT, renderDiffMarkdown } from '../core/workflows/diff-markdown.ts';
import { formatBytes, formatDuration } from '../core/durations.ts';
import { branchTiming } from '../core/workflows/timing.ts';

/** Hidden marker that, together with the app's own login, identifies the one sticky comment per PR. */
export const STICKY_MARKER = '<!-- vela-branch:app -->';

export type StickyView =
  | { kind: 'creating'; name: string; parent: string }
  /** `diff`: the last `/vela diff`, shown collapsed under the branch. */
  | { kind: 'branch'; branch: Branch; diff?: DiffResult }
  | { kind: 'kept'; branch: Branch }
  | { kind: 'destroyed'; name: string; reason: string }
  | { kind: 'missing'; name: string }
  | { kind: 'agent-down'; name: string }
  | { kind: 'error'; name: string; message: string }
  /** The branch exists but is not this PR's to use (another repository's, or another parent). */
  | { kind: 'mismatch'; name: string; message: string }
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
  if (view.kind !== 'branch' || !view.diff) return lines.join('\n');
  const rest = lines.join('\n').length + 2;
  const diff = renderDiffMarkdown(view.diff, {
    branch: view.branch.name,
    collapsed: true,
    maxChars: GITHUB_COMMENT_LIMIT - 1_000 - rest,
  });
  return [...lines.slice(0, -1), diff, lines.at(-1)].join('\n');
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
    case 'mismatch':
      return [`### 🔴 Database branch \`${view.name}\`: not usable`, '', oneLine(view.message)];
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

function heading(branch: Branch): string {
  return `### ${STATE_ICON[branch.state] ?? '❔'} Database branch \`${branch.name}\`: ${branch.state}`;
}

function table(branch: Branch, now: Date): string[] {
  const rows: Array<[string, string]> = [
    ['State', branch.state + (branch.state === 'failed' && branch.error ? ` (${oneLine(branch.error)})` : '')],
    ['Parent', branch.parent ? `\`${branch.parent}\`` : '-'],
    ['Host', `\`${branch.host}\``],
    ['Port', `\`${branch.port}\``],
    ['Database', `\`${branch.database}\``],
    ['User', `\`${branch.user}\``],
    ['Age', age(branch, now)],
    ['TTL', branch.expiresAt ? `${expiry(branch, now)} (${branch.expiresAt})` : 'none'],
    ['Size', formatBytes(branch.storage?.exclusiveBytes)],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)];
}

function credentialsHelp(branch: Branch): string[] {
  return [
    '<details><summary>How to connect</summary>',
    '',
    'The password is never posted here.',
    '- In a workflow: `uses: vela/branch@v1` exports `DATABASE_URL` (and `PGHOST`, `PGPASSWORD`, …) for this PR.',
    `- Locally: \`vela-branch url ${branch.name}\` prints the connection string (needs \`VELA_AGENT_URL\` and \`VELA_TOKEN\`).`,
    '',
    '</details>',
  ];
}

function footer(ctx: StickyContext): string {
  const at = ctx.sha ? ` for ${ctx.sha.slice(0, 7)}` : '';
  return `<sub>Updated${at} at ${ctx.now.toISOString()} · comment \`/vela help\` for commands</sub>`;
}

function age(branch: Branch, now: Date): string {
  const { ageMs } = branchTiming(branch, now);
  return ageMs === null ? '-' : formatDuration(ageMs);
}

function expiry(branch: Branch, now: Date): string {
  const { ttlLeftMs, expired } = branchTiming(branch, now);
  if (ttlLeftMs === null) return 'with no expiry';
  return expired ? 'expired' : `expires in ${formatDuration(ttlLeftMs)}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
