import { describe, expect, it } from 'vitest';
import { parseComment } from '../../src/app/commands.ts';

describe('parseComment', () => {
  it.each([
    ['/vela status', { name: 'status' }],
    ['/vela reset', { name: 'reset' }],
    ['  /vela   rebase  ', { name: 'rebase' }],
    ['/vela diff', { name: 'diff' }],
    ['/vela destroy', { name: 'destroy' }],
    ['/vela help', { name: 'help' }],
    ['/vela', { name: 'help' }],
    ['/vela create', { name: 'create' }],
    ['/vela create --from staging-1', { name: 'create', from: 'staging-1' }],
    ['/vela extend 2d', { name: 'extend', ttl: '2d' }],
    ['/vela extend 1d12h', { name: 'extend', ttl: '1d12h' }],
    ['/vela reset\r\nthe seed changed', { name: 'reset' }],
  ])('%j → %j', (body, command) => {
    const parsed = parseComment(body);
    expect(parsed.kind).toBe('command');
    expect(parsed.kind === 'command' && parsed.command).toEqual(command);
  });

  it.each([['hello /vela reset'], ['> /vela reset'], ['LGTM\n/vela reset'], ['/velaraptor'], ['/VELA reset'], ['']])(
    '%j is not a command',
    (body) => {
      expect(parseComment(body)).toEqual({ kind: 'none' });
    },
  );

  it.each([
    ['/vela frobnicate', 'unknown command `frobnicate`'],
    ['/vela extend', 'exactly one duration'],
    ['/vela extend soon', 'a duration is a whole number'],
    ['/vela extend 2d 3d', 'exactly one duration'],
    ['/vela reset now', '`reset` takes no arguments'],
    ['/vela create --from', 'usage'],
    ['/vela create main', 'usage'],
    ['/vela create --from Bad_Name', 'invalid branch name'],
  ])('%j is malformed: %s', (body, reason) => {
    const parsed = parseComment(body);
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.reason).toContain(reason);
  });

  it('keeps the first line for quoting in the reply', () => {
    const parsed = parseComment('/vela extend 2d\nmore text');
    expect(parsed.kind === 'command' && parsed.line).toBe('/vela extend 2d');
  });
});
