import { formatDuration } from '../../core/durations.ts';
import { branchTiming } from '../../core/workflows/timing.ts';
import type { TestCaseResult, Totals } from './junit.ts';

/** GitHub rejects issue comments longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** Head-room under the limit for the truncation note and anything GitHub counts differently. */
const BODY_BUDGET = GITHUB_COMMENT_LIMIT - 1_536;
const EXCERPT_CHARS = 1_200;
const EXCERPT_LINES = 20;
const NAME_CHARS = 200;

export interface ReportInput {
  /** Hidden marker that identifies this job's sticky comment. */
  marker: string;
  totals: Totals;
  failures: TestCaseResult[];
  fileCount: number;
  pattern: string;
  /** Files that matched the glob but were not JUnit; listed so a broken reporter is visible. */
  problems?: string[];
  branch: { name: string; createdAt: string | null } | null;
  run: { url: string; id: string; attempt: string; job: string };
  maxFailures: number;
  now: Date;
  /** Characters kept free for what the caller appends (the diff section). */
  reserveChars?: number;
}

export function reportMarker(key: string): string {
  return `<!-- vela-branch:report:${key} -->`;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const clip = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

function seconds(sec: number): string {
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 2 : 1)}s`;
  return formatDuration(sec * 1000);
}

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

function headline(totals: Totals, fileCount: number): string {
  if (fileCount === 0) return '### ⚠️ No test results found';
  if (totals.failed > 0) return `### ❌ ${plural(totals.failed, 'test')} failed out of ${totals.tests.toLocaleString('en-US')}`;
  if (totals.tests === 0) return '### ⚠️ No tests ran';
  return `### ✅ All ${plural(totals.tests - totals.skipped, 'test')} passed`;
}

function failureBlock(testCase: TestCaseResult): string {
  const title = [testCase.classname && testCase.classname !== testCase.name ? testCase.classname : testCase.suite, testCase.name]
    .filter(Boolean)
    .join(' › ');
  const kind = testCase.status === 'error' ? ' (error)' : '';
  const detailLines = testCase.details.split('\n').slice(0, EXCERPT_LINES).join('\n');
  const body =
    testCase.message && !detailLines.includes(testCase.message) ? `${testCase.message}\n\n${detailLines}` : detailLines || testCase.message;
  const excerpt = clip(body.trim(), EXCERPT_CHARS) || '(no message)';
  return (
    `<details><summary><code>${escapeHtml(clip(title, NAME_CHARS))}</code>${kind}</summary>\n\n` +
    `<pre>${escapeHtml(excerpt)}</pre>\n</details>\n`
  );
}

/**
 * The report as markdown, for the sticky PR comment and the job summary alike. Pure: the same input
 * gives the same text. Failures are added while they fit under GitHub's comment limit, then a note
 * says how many were left out.
 */
export function renderReport(input: ReportInput): string {
  const totals = input.totals;
  const head: string[] = [input.marker, headline(totals, input.fileCount), ''];
  if (input.fileCount === 0) {
    head.push(
      `No JUnit XML files matched \`${clip(input.pattern.replace(/`/g, "'"), 200)}\`. Did the test step run and write its report?`,
      '',
    );
  } else {
    head.push(
      '| Passed | Failed | Skipped | Total | Duration |',
      '|---:|---:|---:|---:|---:|',
      `| ${totals.passed} | ${totals.failed}${totals.errors ? ` (${totals.errors} errors)` : ''} | ${totals.skipped} | ${totals.tests} | ${seconds(totals.durationSec)} |`,
      '',
    );
  }
  const where: string[] = [];
  if (input.branch) {
    const { createdAt } = input.branch;
    const ageMs = createdAt ? branchTiming({ createdAt, expiresAt: null }, input.now).ageMs : null;
    const ageText = ageMs !== null ? `, created ${formatDuration(ageMs)} ago` : '';
    where.push(`Database branch \`${input.branch.name}\`${ageText}`);
  }
  where.push(`[run ${input.run.id} (attempt ${input.run.attempt}), job \`${input.run.job}\`](${input.run.url})`);
  head.push(where.join(' · '), '');
  const problems = input.problems ?? [];
  for (const problem of problems.slice(0, 10)) head.push(`> ⚠️ skipped ${escapeHtml(clip(problem, 300))}`, '');
  if (problems.length > 10) head.push(`> ⚠️ and ${problems.length - 10} more unreadable files`, '');

  let out = `${head.join('\n')}\n`;
  const failures = input.failures;
  if (failures.length === 0 || input.maxFailures === 0) {
    if (failures.length > 0) out += `_${plural(failures.length, 'failure')} not listed (\`max-failures: 0\`)._\n`;
    return out;
  }

  out += '#### Failures\n\n';
  const wanted = Math.min(failures.length, input.maxFailures);
  let shown = 0;
  for (; shown < wanted; shown++) {
    const block = failureBlock(failures[shown]);
    if (out.length + block.length > BODY_BUDGET - (input.reserveChars ?? 0)) break;
    out += block;
  }
  const hidden = failures.length - shown;
  if (hidden > 0) {
    const why = shown < wanted ? "GitHub's comment size limit" : `\`max-failures: ${input.maxFailures}\``;
    out += `\n_… and ${plural(hidden, 'more failure')} not shown (${why}); the full list is in the job's test report._\n`;
  }
  return out;
}
