import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import * as glob from '@actions/glob';
import { addTotals, emptyTotals, parseJUnit, type TestCaseResult, type Totals } from './junit.ts';

export interface CollectedResults {
  files: string[];
  totals: Totals;
  /** Failed and errored cases only, in file order. */
  failures: TestCaseResult[];
  /** Files that matched but could not be read as JUnit, with the reason. */
  problems: string[];
}

/** Reads every JUnit file the (possibly multi-line) glob matches, relative to `cwd`. */
export async function collectResults(pattern: string, cwd: string = process.cwd()): Promise<CollectedResults> {
  const globber = await glob.create(pattern, { followSymbolicLinks: false, matchDirectories: false });
  const files = (await globber.glob()).sort();
  let totals = emptyTotals();
  const failures: TestCaseResult[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const shown = relative(cwd, file) || file;
    try {
      const parsed = parseJUnit(await readFile(file, 'utf8'));
      totals = addTotals(totals, parsed.totals);
      for (const testCase of parsed.cases) if (testCase.status === 'failed' || testCase.status === 'error') failures.push(testCase);
    } catch (err) {
      problems.push(`${shown}: ${(err as Error).message}`);
    }
  }
  return { files: files.map((f) => relative(cwd, f) || f), totals, failures, problems };
}
