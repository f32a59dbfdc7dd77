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

const num = (value: unknown): number => {
  const parsed = typeof value === 'string' ? Number.parseFloat(value.replace(/,/g, '')) : NaN;
  return Number.isFinite(parsed) ? parsed : 0;
};

const text = (node: unknown): string => {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object') {
    const inner = (node as Node)['#text'];
    return typeof inner === 'string' ? inner : typeof inner === 'number' || typeof inner === 'boolean' ? String(inner) : '';
  }
  return '';
};

const attr = (node: unknown, name: string): string => {
  if (node && typeof node === 'object') {
    const value = (node as Node)[name];
    return typeof value === 'string' ? value : '';
  }
  return '';
};

const firstLine = (textBlock: string): string => textBlock.trim().split('\n', 1)[0].trim();

function toCase(testCase: Node, suite: string): TestCaseResult {
  const failure = (testCase.failure as unknown[] | undefined)?.[0];
  const error = (testCase.error as unknown[] | undefined)?.[0];
  const skipped = testCase.skipped !== undefined;
  const problem = failure ?? error;
  const status: CaseStatus = failure !== undefined ? 'failed' : error !== undefined ? 'error' : skipped ? 'skipped' : 'passed';
  const details = problem !== undefined ? text(problem).trim() : '';
  return {
    suite,
    classname: attr(testCase, 'classname'),
    name: attr(testCase, 'name'),
    status,
    timeSec: num(testCase.time),
    message: problem !== undefined ? attr(problem, 'message').trim() || firstLine(details) : '',
    details,
  };
}

/** Walks nested testsuites (some reporters nest them) collecting every testcase. */
function collectCases(suites: Node[], out: TestCaseResult[]): void {
  for (const suite of suites) {
    const name = attr(suite, 'name');
    for (const testCase of (suite.testcase as Node[] | undefined) ?? []) out.push(toCase(testCase, name));
    collectCases((suite.testsuite as Node[] | undefined) ?? [], out);
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

export function addTotals(left: Totals, right: Totals): Totals {
  return {
    tests: left.tests + right.tests,
    passed: left.passed + right.passed,
    failed: left.failed + right.failed,
    errors: left.errors + right.errors,
    skipped: left.skipped + right.skipped,
    durationSec: left.durationSec + right.durationSec,
  };
}
