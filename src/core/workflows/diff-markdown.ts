import { diffObjectKinds, diffObjectNoun } from '../api/index.ts';
import type { DiffResult } from '../api/index.ts';
import { scrubCredentials } from '../scrub-credentials.ts';

/** GitHub rejects issue comments longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface DiffMarkdownOptions {
  branch: string;
  /** Characters this section may take at most (what the rest of the comment leaves of GitHub's limit). */
  maxChars: number;
  /** The whole section inside a `<details>` that starts closed, its headline as the summary. */
  collapsed: boolean;
  /** Values to blank wherever they appear (the branch's password and URI). */
  secrets?: string[];
}

const MAX_SCHEMA_LINES = 100;
const MAX_DATA_ROWS = 50;
const MAX_SAMPLE_CHARS = 200;

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/** A name as a markdown code span, safe inside a table cell. */
const code = (s: string): string => `\`${s.replace(/[`\r\n]/g, ' ').replace(/\|/g, '\\|')}\``;
const plural = (n: number, word: string, many = `${word}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;

/** The one-line verdict: what changed in the schema and in the rows (also the `<summary>` when collapsed). */
export function diffHeadline(diff: DiffResult): string {
  const against = diff.parent ? ` against ${diff.parent}` : '';
  const schema = diff.summary.length ? `${plural(diff.summary.length, 'schema change')}${against}` : `no schema changes${against}`;
  if (!diff.data) return schema;
  if (diff.data.length === 0) return `${schema}; no rows changed since the fork`;
  const sum = (k: 'inserted' | 'updated' | 'deleted') => diff.data!.reduce((n, t) => n + t[k], 0);
  return `${schema}; rows changed in ${plural(diff.data.length, 'table')} (${sum('inserted')} inserted, ${sum('updated')} updated, ${sum('deleted')} deleted)`;
}

/**
 * The diff as markdown for a PR comment or reply: headline, schema changes, row counts per table,
 * then the SQL, all within `maxChars`. What does not fit is cut at a line and said so; the SQL is
 * cut first, the lists are capped.
 */
export function renderDiffMarkdown(diff: DiffResult, opts: DiffMarkdownOptions): string {
  // Lists are capped; when even the capped lists leave no room, fewer lines, then only the headline.
  for (const caps of [
    [MAX_SCHEMA_LINES, MAX_DATA_ROWS],
    [20, 10],
    [0, 0],
  ]) {
    const out = render(diff, opts, caps[0], caps[1]);
    if (out.length <= opts.maxChars) return out;
  }
  const out = render(diff, opts, 0, 0);
  return `${out.slice(0, Math.max(0, opts.maxChars - 20))}…${opts.collapsed ? '</summary></details>' : ''}`.slice(0, opts.maxChars);
}

function render(diff: DiffResult, opts: DiffMarkdownOptions, schemaCap: number, dataCap: number): string {
  const scrub = (s: string) => scrubCredentials(s, opts.secrets ?? []);
  const headline = scrub(diffHeadline(diff));
  const body: string[] = [];
  const cut = schemaCap === 0 ? ['_The details do not fit in this comment: `vela-branch diff ' + opts.branch + '` prints them._', ''] : [];
  if (diff.summary.length && schemaCap > 0) {
    body.push('**Schema**', '');
    const lines = schemaLines(diff).map(scrub);
    body.push(...lines.slice(0, schemaCap));
    if (lines.length > schemaCap) body.push(`- … and ${plural(lines.length - schemaCap, 'more change')}`);
    body.push('');
  }
  if (!diff.data && diff.dataNote && dataCap > 0) body.push(`_Rows changed: not available (${escapeHtml(scrub(diff.dataNote))})._`, '');
  if (diff.data?.length && dataCap > 0) {
    const samples = diff.data.some((t) => t.sample?.length);
    body.push('**Rows changed since the fork**', '');
    body.push(`| table | inserted | updated | deleted |${samples ? ' sample keys |' : ''}`, `|---|---:|---:|---:|${samples ? '---|' : ''}`);
    for (const t of diff.data.slice(0, dataCap)) {
      const keys = samples ? ` ${code(scrub(sampleText(t.sample ?? [])))} |` : '';
      body.push(`| ${code(`${t.table.schema}.${t.table.name}`)} | ${t.inserted} | ${t.updated} | ${t.deleted} |${keys}`);
    }
    if (diff.data.length > dataCap) body.push('', `_… and ${plural(diff.data.length - dataCap, 'more table')}_`);
    body.push('');
  }
  const head = opts.collapsed
    ? [`<details><summary>🗄️ Database diff of <code>${escapeHtml(opts.branch)}</code>: ${escapeHtml(headline)}</summary>`, '']
    : [`🗄️ Database diff of ${code(opts.branch)}: ${headline}`, ''];
  const tail = opts.collapsed ? ['</details>', ''] : [];
  const fixed = [...head, ...body, ...tail].join('\n');
  const sql = scrub(diff.sql).trimEnd();
  const sqlBlock = sql && schemaCap > 0 ? fencedSql(sql, opts.maxChars - fixed.length - 2, opts.branch) : '';
  return [...head, ...(sql || body.length ? cut : []), ...body, ...(sqlBlock ? [sqlBlock, ''] : []), ...tail].join('\n');
}

/** `- table `public.items` added`, by kind; an agent without `objects` gives its summary lines as they are. */
function schemaLines(diff: DiffResult): string[] {
  if (!diff.objects) return diff.summary.map((l) => `- ${code(l)}`);
  const out: string[] = [];
  for (const kind of diffObjectKinds) {
    const x = diff.objects[kind];
    if (!x) continue;
    for (const verb of ['added', 'dropped', 'changed'] as const)
      for (const name of x[verb]) out.push(`- ${diffObjectNoun[kind]} ${code(name)} ${verb}`);
  }
  return out;
}

function sampleText(sample: Array<Record<string, string | null>>): string {
  const text = sample
    .map((k) =>
      Object.entries(k)
        .map(([c, v]) => `${c}=${v ?? 'NULL'}`)
        .join(','),
    )
    .join('; ');
  return text.length > MAX_SAMPLE_CHARS ? `${text.slice(0, MAX_SAMPLE_CHARS - 1)}…` : text;
}

/** The SQL in a fence no line of it can close, cut at a line to fit `budget` characters. */
function fencedSql(sql: string, budget: number, branch: string): string {
  const longest = Math.max(0, ...(sql.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  const wrap = (s: string) => `${fence}sql\n${s}\n${fence}`;
  if (wrap(sql).length <= budget) return wrap(sql);
  const note = (left: number) =>
    `-- … ${left.toLocaleString('en-US')} more characters cut to fit the comment: vela-branch diff ${branch} prints it all`;
  const room = budget - wrap(note(sql.length)).length - 1;
  if (room < 200)
    return `_The SQL (${plural(sql.length, 'character')}) does not fit in this comment: \`vela-branch diff ${branch}\` prints it._`;
  let cut = sql.lastIndexOf('\n\n', room);
  if (cut < room / 2) cut = sql.lastIndexOf('\n', room);
  if (cut <= 0) cut = room;
  return wrap(`${sql.slice(0, cut).trimEnd()}\n${note(sql.length - cut)}`);
}
