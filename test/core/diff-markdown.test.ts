import { describe, expect, it } from 'vitest';
import { diffResult } from '../../src/core/api/index.ts';
import type { DiffResult } from '../../src/core/api/index.ts';
import { GITHUB_COMMENT_LIMIT, diffHeadline, renderDiffMarkdown } from '../../src/core/workflows/diff-markdown.ts';

const small: DiffResult = {
  parent: 'main',
  sql: 'CREATE TABLE "public"."items" (\n  "id" integer NOT NULL\n);\n\nCREATE INDEX items_id ON public.items USING btree (id);\n',
  summary: ['table public.items added', 'index public.items_id added'],
  objects: {
    tables: { added: ['public.items'], dropped: [], changed: [] },
    indexes: { added: ['public.items_id'], dropped: [], changed: [] },
  },
  data: [{ table: { schema: 'public', name: 'items' }, inserted: 2, updated: 0, deleted: 0, sample: [{ id: '1' }, { id: '2' }] }],
};

/** A migration of `n` statements of ~100 characters each. */
function bigDiff(n: number): DiffResult {
  const stmts = Array.from(
    { length: n },
    (_, i) => `ALTER TABLE "public"."t" ADD COLUMN "column_number_${i}_${'x'.repeat(40)}" text DEFAULT 'value';`,
  );
  return {
    parent: 'main',
    sql: `${stmts.join('\n\n')}\n`,
    summary: stmts.map((_, i) => `column public.t.column_number_${i} added`),
    objects: { columns: { added: stmts.map((_, i) => `public.t.column_number_${i}`), dropped: [], changed: [] } },
    data: Array.from({ length: 80 }, (_, i) => ({ table: { schema: 'public', name: `t${i}` }, inserted: i, updated: 0, deleted: 0 })),
  };
}

describe('the diff as markdown (PR comments and replies)', () => {
  it('collapsed: one <details> whose summary is the headline; lists, row counts and the SQL inside', () => {
    const md = renderDiffMarkdown(small, { branch: 'pr-7', collapsed: true, maxChars: 60_000 });
    expect(
      md.startsWith(
        '<details><summary>🗄️ Database diff of <code>pr-7</code>: 2 schema changes against main; rows changed in 1 table (2 inserted, 0 updated, 0 deleted)</summary>\n',
      ),
    ).toBe(true);
    expect(md.trimEnd().endsWith('</details>')).toBe(true);
    expect(md).toContain('- table `public.items` added\n- index `public.items_id` added');
    expect(md).toContain('| table | inserted | updated | deleted | sample keys |');
    expect(md).toContain('| `public.items` | 2 | 0 | 0 | `id=1; id=2` |');
    expect(md).toContain(`\`\`\`sql\n${small.sql.trimEnd()}\n\`\`\``);
  });

  it('open (a reply to /vela diff): no <details>; nothing changed is one line', () => {
    expect(renderDiffMarkdown(small, { branch: 'pr-7', collapsed: false, maxChars: 60_000 })).not.toContain('<details>');
    const none: DiffResult = { parent: 'main', sql: '', summary: [], objects: {}, data: [] };
    expect(renderDiffMarkdown(none, { branch: 'pr-7', collapsed: false, maxChars: 60_000 })).toBe(
      '🗄️ Database diff of `pr-7`: no schema changes against main; no rows changed since the fork\n',
    );
    expect(diffHeadline({ ...none, data: null })).toBe('no schema changes against main');
    const noLog = renderDiffMarkdown(
      { ...small, data: null, dataNote: 'branch pr-7 has no change log (made before change capture existed): reset it to start capturing' },
      { branch: 'pr-7', collapsed: true, maxChars: 60_000 },
    );
    expect(noLog).toContain(
      '_Rows changed: not available (branch pr-7 has no change log (made before change capture existed): reset it to start capturing)._',
    );
  });

  it('a migration far over the limit is cut at a statement, says how much is missing, and stays under the limit', () => {
    const diff = bigDiff(2_000); // ~210 kB of SQL
    const md = renderDiffMarkdown(diff, { branch: 'pr-7', collapsed: true, maxChars: GITHUB_COMMENT_LIMIT - 1_000 });
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT - 1_000);
    expect(md).toMatch(/-- … [\d,]+ more characters cut to fit the comment: vela-branch diff pr-7 prints it all\n```\n\n<\/details>\n$/);
    // Every SQL line kept is a whole statement; the fence is closed before </details>.
    const sql = md.slice(md.indexOf('```sql\n') + 7, md.lastIndexOf('\n-- …'));
    for (const line of sql.split('\n').filter(Boolean)) expect(line).toMatch(/^ALTER TABLE .*;$/);
    expect(md).toContain('- … and 1,900 more changes');
    expect(md).toContain('_… and 30 more tables_');
  });

  it('a small budget shortens the lists first; a tiny one keeps the headline and a note, never a broken fence', () => {
    const md = renderDiffMarkdown(bigDiff(3), { branch: 'pr-7', collapsed: true, maxChars: 2_000 });
    expect(md.length).toBeLessThanOrEqual(2_000);
    expect(md).toContain('_… and 70 more tables_');
    expect(md).toContain('```sql\nALTER TABLE');
    const tiny = renderDiffMarkdown(bigDiff(3), { branch: 'pr-7', collapsed: true, maxChars: 700 });
    expect(tiny.length).toBeLessThanOrEqual(700);
    expect(tiny).toContain('_The details do not fit in this comment: `vela-branch diff pr-7` prints them._');
    expect(tiny).not.toContain('```');
    expect(tiny.trimEnd().endsWith('</details>')).toBe(true);
  });

  it('SQL with backticks gets a longer fence; passwords and URIs in it are blanked', () => {
    const diff: DiffResult = {
      ...small,
      sql: "CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $$ SELECT '```' || 'postgres://app:hunter2@db/x' || 'password=s3cret' $$;\n",
    };
    const md = renderDiffMarkdown(diff, { branch: 'pr-7', collapsed: true, maxChars: 60_000, secrets: ['branch-pw-123'] });
    expect(md).toContain('````sql\n');
    expect(md).not.toContain('hunter2');
    expect(md).not.toContain('s3cret');
    expect(md).toContain('postgres://app:***@db/x');
  });

  it('names with markdown or HTML in them cannot break out of their code span or the summary', () => {
    const diff: DiffResult = {
      parent: 'main',
      sql: '',
      summary: ['table public.a|b`c added'],
      objects: { tables: { added: ['public.a|b`c</details>'], dropped: [], changed: [] } },
      data: null,
    };
    const md = renderDiffMarkdown(diff, { branch: 'pr-7', collapsed: true, maxChars: 60_000 });
    expect(md).toContain('- table `public.a\\|b c</details>` added');
    expect(md.match(/<\/details>/g)).toHaveLength(2); // inside the code span, and the real one
    expect(diffResult.safeParse(diff).success).toBe(true);
  });
});
