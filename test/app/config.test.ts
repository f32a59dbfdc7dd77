import { describe, expect, it } from 'vitest';
import { parseAppConfig } from '../../src/app/config.ts';

describe('parseAppConfig', () => {
  it('no file → every default', () => {
    expect(parseAppConfig(null)).toEqual({
      ok: true,
      config: {
        parent: 'main',
        ttl: '7d',
        auto: true,
        drafts: false,
        labels: [],
        keepOnClose: false,
        commands: true,
        forks: false,
        checkRun: false,
      },
    });
  });

  it('keeps given values', () => {
    const r = parseAppConfig({ parent: 'staging', ttl: '2h', drafts: true, labels: ['db'], keepOnClose: true });
    expect(r.ok && r.config).toMatchObject({ parent: 'staging', ttl: '2h', drafts: true, labels: ['db'], keepOnClose: true, auto: true });
  });

  it.each([
    [{ ttl: 'forever' }, '`ttl`'],
    [{ parent: 'Not A Branch' }, '`parent`'],
    [{ auto: 'yes' }, '`auto`'],
    [{ labels: 'db' }, '`labels`'],
    [{ keep_on_close: true }, 'unknown key `keep_on_close`'],
  ])('%j → names %s', (raw, key) => {
    const r = parseAppConfig(raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problem).toContain(key);
  });

  it('names every bad key at once', () => {
    const r = parseAppConfig({ ttl: 'x', drafts: 1 });
    expect(!r.ok && r.problem).toMatch(/`ttl`.*`drafts`|`drafts`.*`ttl`/);
  });
});
