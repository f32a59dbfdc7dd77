import { describe, expect, it } from 'vitest';
import { formatAge, formatMs, formatTtlLeft, renderTable } from '../../src/cli/format.ts';
import { redactBranch, uriWithoutPassword } from '../../src/cli/redact.ts';
import { closestName } from '../../src/cli/suggest.ts';
import { branchFixture, NOW, PASSWORD } from './helpers.ts';

describe('renderTable', () => {
  it('pads columns to the widest cell, right-aligns where asked, trims line ends', () => {
    const text = renderTable(
      ['A', 'NUM', 'Z'],
      [
        ['long-name', '5', ''],
        ['x', '12345', 'z'],
      ],
      ['left', 'right', 'left'],
    );
    expect(text.split('\n')).toEqual(['A            NUM  Z', 'long-name      5', 'x          12345  z']);
  });
});

describe('durations for humans', () => {
  it('ages, TTL left and operation times', () => {
    expect(formatAge(new Date(NOW - 3 * 60_000).toISOString(), NOW)).toBe('3m');
    expect(formatAge('not a date', NOW)).toBe('-');
    expect(formatTtlLeft(new Date(NOW + 7 * 86_400_000 - 3_600_000).toISOString(), NOW)).toBe('6d 23h');
    expect(formatTtlLeft(new Date(NOW - 1).toISOString(), NOW)).toBe('expired');
    expect(formatTtlLeft(null, NOW)).toBe('-');
    expect(formatMs(142.4)).toBe('142 ms');
    expect(formatMs(1450)).toBe('1.4 s');
    expect(formatMs(null)).toBe('-');
  });
});

describe('redaction', () => {
  it('removes the password from userinfo and query', () => {
    expect(uriWithoutPassword('postgresql://u:p%40ss@h:5432/db?sslmode=disable&password=x')).toBe(
      'postgresql://u@h:5432/db?sslmode=disable',
    );
    expect(uriWithoutPassword('::nonsense')).toBeUndefined();
  });

  it('redactBranch leaves no copy of the password anywhere', () => {
    const shown = JSON.stringify(redactBranch(branchFixture()));
    expect(shown).not.toContain(PASSWORD);
    expect(shown).toContain('"user":"app"');
  });
});

describe('closestName', () => {
  it('suggests within two edits only', () => {
    expect(closestName('lst', ['list', 'show'])).toBe('list');
    expect(closestName('dleete', ['delete', 'diff'])).toBe('delete');
    expect(closestName('frobnicate', ['list', 'show'])).toBeUndefined();
  });
});
