import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type CaseStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestCaseResult {
  suite: string;
  classname: string;
  name: string;
  status: CaseStatus;
  timeSec: number;
  /** One-line reason (the failure's `message` attribute, or the first line of its text). */
  message: string;
  /** The failure's text: stack trace, assertion diff, captured output. */
  details: string;
}

export interface Totals {
  tests: number;
  passed: number;
  /** Failures plus errors: both mean the test did not pass. */
  failed: number;
  errors: number;
  skipped: number;
  durationSec: number;
}

export interface ParsedFile {
  totals: Totals;
  cases: TestCaseResult[];
}

type Node = Record<string, unknown>;

const ARRAY_TAGS = new Set(['testsuites', 'testsuite', 'testcase', 'failure', 'error', 'skipped', 'flakyFailure', 'rerunFailure']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  textNodeName: '#text',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => ARRAY_TAGS.has(name),
});

const num = (v: unknown): number => {
  const n = typeof v === 'string' ? Number.parseFloat(v.replace(/,/g, '')) : NaN;
  return Number.isFinite(n) ? n : 0;
};

const text = (v: unknown): string => {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const t = (v as Node)['#text'];
    return typeof t === 'string' ? t : typeof t === 'number' || typeof t === 'boolean' ? String(t) : '';
  }
  return '';
};

const attr = (v: unknown, name: string): string => {
  if (v && typeof v === 'object') {
    const a = (v as Node)[name];
    return typeof a === 'string' ? a : '';
  }
  return '';
};

const firstLine = (s: string): string => s.trim().split('\n', 1)[0].trim();

function toCase(tc: Node, suite: string): TestCaseResult {
  const failure = (tc.failure as unknown[] | undefined)?.[0];
  const error = (tc.error as unknown[] | undefined)?.[0];
  const skipped = tc.skipped !== undefined;
  const problem = failure ?? error;
  const status: CaseStatus = failure !== undefined ? 'failed' : error !== undefined ? 'error' : skipped ? 'skipped' : 'passed';
  const details = problem !== undefined ? text(problem).trim() : '';
  return {
    suite,
    classname: attr(tc, 'classname'),
    name: attr(tc, 'name'),
    status,
    timeSec: num(tc.time),
    message: problem !== undefined ? attr(problem, 'message').trim() || firstLine(details) : '',
    details,
  };
}

/** Walks nested testsuites (some reporters nest them) collecting every testcase. */
function collectCases(suites: Node[], out: TestCaseResult[]): void {
  for (const s of suites) {
    const name = attr(s, 'name');
    for (const tc of (s.testcase as Node[] | undefined) ?? []) out.push(toCase(tc, name));
    collectCases((s.testsuite as Node[] | undefined) ?? [], out);
  }
}

export class JUnitParseError extends Error {}

/**
 * Parses one JUnit XML document (jest-junit, vitest, pytest, go-junit-report, maven surefire, ...).
 * Counts come from the testcases themselves, which all these reporters agree on; duration from the
 * root's `time` where present (it includes setup), else the suites'.
 */
export function parseJUnit(xml: string): ParsedFile {
  // The parser is lenient about unclosed tags; a truncated report should be reported, not half-counted.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new JUnitParseError(`not well-formed XML (line ${valid.err.line}): ${valid.err.msg}`);
  }
  const doc = parser.parse(xml) as Node;
  const roots = (doc.testsuites as Node[] | undefined) ?? [];
  const topSuites = roots.length
    ? roots.flatMap((r) => (typeof r === 'object' ? ((r.testsuite as Node[] | undefined) ?? []) : []))
    : ((doc.testsuite as Node[] | undefined) ?? []);
  if (!roots.length && !topSuites.length) throw new JUnitParseError('no <testsuites> or <testsuite> element');

  const cases: TestCaseResult[] = [];
  collectCases(topSuites, cases);

  const rootTime = roots.reduce((sum, r) => sum + num(attr(r, 'time')), 0);
  const suiteTime = topSuites.reduce((sum, s) => sum + num(s.time), 0);
  const caseTime = cases.reduce((sum, c) => sum + c.timeSec, 0);
  const durationSec = rootTime || suiteTime || caseTime;

  const count = (st: CaseStatus) => cases.filter((c) => c.status === st).length;
  const errors = count('error');
  return {
    cases,
    totals: {
      tests: cases.length,
      passed: count('passed'),
      failed: count('failed') + errors,
      errors,
      skipped: count('skipped'),
      durationSec,
    },
  };
}

export function emptyTotals(): Totals {
  return { tests: 0, passed: 0, failed: 0, errors: 0, skipped: 0, durationSec: 0 };
}

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    tests: a.tests + b.tests,
    passed: a.passed + b.passed,
    failed: a.failed + b.failed,
    errors: a.errors + b.errors,
    skipped: a.skipped + b.skipped,
    durationSec: a.durationSec + b.durationSec,
  };
}
