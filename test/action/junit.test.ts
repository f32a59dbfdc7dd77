import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJUnit } from '../../src/action/report/junit.ts';

const fixtures = join(import.meta.dirname, '../fixtures/junit');
const parse = (file: string) => parseJUnit(readFileSync(join(fixtures, file), 'utf8'));

describe('parseJUnit on real reporter output', () => {
  it.each([
    // file, tests, passed, failed (incl. errors), errors, skipped, duration
    ['jest-junit.xml', 7, 4, 2, 0, 1, 3.412],
    ['vitest.xml', 6, 4, 1, 0, 1, 0.842],
    ['pytest.xml', 8, 4, 2, 1, 2, 2.917],
    ['go-junit-report.xml', 9, 6, 2, 0, 1, 1.635],
    ['TEST-com.example.shop.OrderServiceTest.xml', 6, 3, 2, 1, 1, 4.872],
  ])('%s: counts and duration', (file, tests, passed, failed, errors, skipped, duration) => {
    const { totals } = parse(file);
    expect(totals).toMatchObject({ tests, passed, failed, errors, skipped });
    expect(totals.durationSec).toBeCloseTo(duration, 3);
  });

  it('takes the message attribute when there is one (pytest, surefire, vitest)', () => {
    const pytest = parse('pytest.xml').cases.filter((c) => c.status !== 'passed' && c.status !== 'skipped');
    expect(pytest.map((c) => [c.name, c.status])).toEqual([
      ['test_order_total', 'failed'],
      ['test_monthly_report', 'error'],
    ]);
    expect(pytest[0].message).toContain('assert 3000 == 3100');
    expect(pytest[0].details).toContain('tests/test_orders.py:27: AssertionError');
    const surefire = parse('TEST-com.example.shop.OrderServiceTest.xml').cases.find((c) => c.name === 'appliesDiscount');
    expect(surefire?.message).toBe('expected: <2700> but was: <3000>');
  });

  it('falls back to the first line of the text when there is no message (jest-junit, CDATA in go)', () => {
    const jest = parse('jest-junit.xml').cases.find((c) => c.status === 'failed');
    expect(jest?.message).toBe('Error: expect(received).rejects.toThrow()');
    const go = parse('go-junit-report.xml').cases.find((c) => c.name === 'TestMigrate');
    expect(go?.details).toContain('relation "discounts" already exists');
  });

  it('decodes entities in names', () => {
    const names = parse('vitest.xml').cases.map((c) => c.name);
    expect(names).toContain('math > divides by zero');
  });

  it('rejects documents that are not JUnit', () => {
    expect(() => parseJUnit('<coverage line-rate="0.8"/>')).toThrow(/no <testsuites> or <testsuite>/);
    expect(() => parseJUnit('<testsuite><testcase></testsuite>')).toThrow(/not well-formed/);
  });

  it('walks nested testsuites', () => {
    const xml = `<testsuites><testsuite name="outer" time="2"><testsuite name="inner"><testcase name="a"/><testcase name="b"><failure message="boom"/></testcase></testsuite></testsuite></testsuites>`;
    const { totals, cases } = parseJUnit(xml);
    expect(totals).toMatchObject({ tests: 2, passed: 1, failed: 1, durationSec: 2 });
    expect(cases[1]).toMatchObject({ suite: 'inner', message: 'boom' });
  });
});
