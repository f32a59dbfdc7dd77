import { describe, expect, it } from 'vitest';
import { scrubCredentials } from '../../src/core/scrub-credentials.ts';

describe('scrubCredentials', () => {
  it('blanks each secret and its URI-encoded form', () => {
    const secret = 'p@ss/w:rd';
    const text = `pw ${secret} and postgresql://u:${encodeURIComponent(secret)}@h:5432/db`;
    const out = scrubCredentials(text, [secret]);
    expect(out).not.toContain(secret);
    expect(out).not.toContain(encodeURIComponent(secret));
    expect(out).toContain('pw ***');
    expect(out).toContain('postgresql://u:***@h:5432/db');
  });

  it('blanks passwords it was not told about in URIs, key=value strings, JSON and bearer headers', () => {
    expect(scrubCredentials('postgres://app:hunter2@db:5432/x')).toBe('postgres://app:***@db:5432/x');
    expect(scrubCredentials("host=db password='a b' user=x")).toBe('host=db password=*** user=x');
    expect(scrubCredentials('host=db password="a b" user=x')).toBe('host=db password=*** user=x');
    expect(scrubCredentials('PGPASSWORD=hunter2 psql')).toBe('PGPASSWORD=*** psql');
    expect(scrubCredentials('?sslmode=require&password=hunter2&x=1')).toBe('?sslmode=require&password=***&x=1');
    expect(scrubCredentials('{"user":"a","password":"hun\\"ter2"}')).toBe('{"user":"a","password":"***"}');
    expect(scrubCredentials('authorization: Bearer abc.def-ghi')).toBe('authorization: Bearer ***');
  });

  it('leaves text without secrets alone and treats regex characters literally', () => {
    expect(scrubCredentials('created pr-1 on port 55001', ['a.c', ''])).toBe('created pr-1 on port 55001');
    expect(scrubCredentials('abc a.c', ['a.c'])).toBe('abc ***');
  });
});
