import { diffObjectKinds, diffObjectNoun } from '../core/api/index.ts';
import type { DiffResult } from '../core/api/index.ts';
import { diffHeadline } from '../core/workflows/diff-markdown.ts';
import { branchArg, flagOption, stringOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { UsageError } from './errors.ts';

const MARK = { added: '+', dropped: '-', changed: '~' } as const;

export const diffCommand: CommandSpec = {
  name: 'diff',
  summary: 'show the schema changes and changed rows of a branch against its parent',
  usage: 'diff NAME [--rows N] [--sql] [--json]',
  description:
    'Prints what changed in the schema (tables, columns, indexes, constraints, views, functions, …), the rows inserted, updated and deleted per table since the fork, and the SQL that brings the parent to the branch.',
  options: { json: { type: 'boolean' }, sql: { type: 'boolean' }, rows: { type: 'string' } },
  optionHelp: [
    ['--rows N', 'also show up to N keys of changed rows per table (0-100)'],
    ['--sql', 'print only the migration SQL (to a file or psql)'],
    ['--json', 'print {sql, summary, objects, data} as JSON'],
  ],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch diff pr-1', 'vela-branch diff pr-1 --rows 5', 'vela-branch diff pr-1 --sql > migration.sql'],
  async run(ctx, { args, values }) {
    const name = branchArg(args[0], 'diff');
    const rowsText = stringOption(values, 'rows');
    if (rowsText !== undefined && !/^\d{1,3}$/.test(rowsText))
      throw new UsageError(`--rows takes a whole number from 0 to 100 (got ${rowsText})`, 'diff');
    const result = await ctx.client.diff(name, rowsText === undefined ? {} : { rows: Number(rowsText) });
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify(result, null, 2));
      return 0;
    }
    if (flagOption(values, 'sql')) {
      if (result.sql.trim()) ctx.print(result.sql.trimEnd());
      return 0;
    }
    for (const line of renderDiffText(name, result)) ctx.print(line);
    return 0;
  },
};

/** The diff for a terminal: headline, schema changes by kind, a table of changed rows, then the SQL. */
export function renderDiffText(name: string, diff: DiffResult): string[] {
  const out = [`${name}: ${diffHeadline(diff)}`];
  const schema: string[] = [];
  if (diff.objects) {
    for (const kind of diffObjectKinds) {
      const x = diff.objects[kind];
      if (!x) continue;
      for (const verb of ['added', 'dropped', 'changed'] as const)
        for (const n of x[verb]) schema.push(`  ${MARK[verb]} ${diffObjectNoun[kind]} ${n}`);
    }
  } else schema.push(...diff.summary.map((l) => `  • ${l}`));
  if (schema.length) out.push('', 'Schema:', ...schema);
  if (!diff.data && diff.dataNote) out.push('', `Rows changed: not available (${diff.dataNote})`);
  if (diff.data?.length) {
    const rows = diff.data.map((t) => [`${t.table.schema}.${t.table.name}`, String(t.inserted), String(t.updated), String(t.deleted)]);
    const head = ['TABLE', 'INSERTED', 'UPDATED', 'DELETED'];
    const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ')}`.trimEnd();
    out.push('', 'Rows changed since the fork:', line(head), ...rows.map(line));
    for (const t of diff.data.filter((x) => x.sample?.length)) {
      const keys = t.sample!.map((k) =>
        Object.entries(k)
          .map(([c, v]) => `${c}=${v ?? 'NULL'}`)
          .join(','),
      );
      out.push(`  ${t.table.schema}.${t.table.name} keys: ${keys.join('; ')}`);
    }
  }
  if (diff.sql.trim()) out.push('', 'SQL:', diff.sql.trimEnd());
  return out;
}
