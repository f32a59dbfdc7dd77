import { describe, expect, it } from 'vitest';
import type { TestCaseResult, Totals } from '../../src/action/report/junit.ts';
import { GITHUB_COMMENT_LIMIT, renderReport, reportMarker, type ReportInput } from '../../src/action/report/render.ts';

const failure = (i: number, messageChars = 400): TestCaseResult => ({
  suite: `suite-${i % 7}`,
  classname: `pkg.Class${i}`,
  name: `test number ${i}`,
  status: 'failed',
  timeSec: 0.01,
  message: `assertion ${i} failed: ${'x'.repeat(messageChars)}`,
  details: `stack line 1 for ${i}\nstack line 2`,
});

const totals = (failed: number, passed = 100): Totals => ({
  tests: failed + passed + 3,
  passed,
  failed,
  errors: 0,
  skipped: 3,
  durationSec: 75.5,
});

const input = (over: Partial<ReportInput> = {}): ReportInput => ({
  marker: reportMarker('test'),
  totals: totals(2),
  failures: [failure(1), failure(2)],
  fileCount: 3,
  pattern: 'reports/**/*.xml',
  branch: { name: 'pr-12', createdAt: '2025-11-20T08:00:00Z' },
  run: { url: 'https://github.com/acme/shop/actions/runs/4567/attempts/2', id: '4567', attempt: '2', job: 'test' },
  maxFailures: 20,
  now: new Date('2025-11-20T10:05:00Z'),
  ...over,
});

describe('renderReport', () => {
  it('starts with the hidden marker and shows counts, duration, branch age and the run link', () => {
    const md = renderReport(input());
    expect(md.startsWith('<!-- vela-branch:report:test -->\n')).toBe(true);
    expect(md).toContain('❌ 2 tests failed out of 105');
    expect(md).toContain('| 100 | 2 | 3 | 105 | 1m 15s |');
    expect(md).toContain('Database branch `pr-12`, created 2h 5m ago');
    expect(md).toContain('(https://github.com/acme/shop/actions/runs/4567/attempts/2)');
    expect(md.match(/<details>/g)).toHaveLength(2);
  });

  it('says all passed when nothing failed, and lists no failures', () => {
    const md = renderReport(input({ totals: totals(0), failures: [] }));
    expect(md).toContain('✅ All 100 tests passed');
    expect(md).not.toContain('<details>');
  });

  it('says so when no JUnit file matched', () => {
    const md = renderReport(input({ fileCount: 0, totals: { ...totals(0, 0), tests: 0, skipped: 0 }, failures: [] }));
    expect(md).toContain('No test results found');
    expect(md).toContain('`reports/**/*.xml`');
  });

  it('escapes HTML in names and messages so a test cannot break the comment or fake the marker', () => {
    const evil: TestCaseResult = {
      ...failure(1),
      name: '<script>x</script> --> <!-- vela-branch:report:other -->',
      message: '</pre></details>',
    };
    const md = renderReport(input({ failures: [evil] }));
    expect(md).not.toContain('<script>');
    expect(md).toContain('&lt;script&gt;');
    expect(md.split('<!-- vela-branch:report:')).toHaveLength(2);
    expect(md.match(/<\/details>/g)).toHaveLength(1);
  });

  it('shows at most max-failures and says how many were left out', () => {
    const failures = Array.from({ length: 30 }, (_, i) => failure(i));
    const md = renderReport(input({ totals: totals(30), failures, maxFailures: 5 }));
    expect(md.match(/<details>/g)).toHaveLength(5);
    expect(md).toContain('25 more failures not shown (`max-failures: 5`)');
  });

  it('stays under GitHub’s 65,536-character limit with 5,000 failures, with a note', () => {
    const failures = Array.from({ length: 5_000 }, (_, i) => failure(i, 3_000));
    const md = renderReport(input({ totals: totals(5_000), failures, maxFailures: 1_000 }));
    expect(md.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    const shown = md.match(/<details>/g)?.length ?? 0;
    expect(shown).toBeGreaterThan(10);
    expect(shown).toBeLessThan(1_000);
    expect(md).toContain(`${(5_000 - shown).toLocaleString('en-US')} more failures not shown (GitHub's comment size limit)`);
  });

  it('clips long messages to an excerpt', () => {
    const md = renderReport(input({ failures: [failure(1, 50_000)] }));
    expect(md.length).toBeLessThan(3_000);
    expect(md).toContain('…</pre>');
  });
});
