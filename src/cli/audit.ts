import { flagOption, stringOption } from './args.ts';
import type { CommandSpec } from './command.ts';
import { UsageError } from './errors.ts';
import { formatTimestamp, renderTable } from './format.ts';

export const auditCommand: CommandSpec = {
  name: 'audit',
  summary: 'show the audit trail: who did what to which branch, and how it went',
  usage: 'audit [--limit N] [--json]',
  options: { limit: { type: 'string' }, json: { type: 'boolean' } },
  optionHelp: [
    ['--limit N', 'newest N records (default 50, at most 1000)'],
    ['--json', 'print the records as JSON'],
  ],
  positionals: { min: 0, max: 0 },
  examples: ['vela-branch audit', 'vela-branch audit --limit 500 --json'],
  async run(ctx, { values }) {
    const limit = parseLimit(stringOption(values, 'limit'));
    const { records } = await ctx.client.audit(limit);
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify({ records }, null, 2));
      return 0;
    }
    if (records.length === 0) {
      ctx.print('no audit records');
      return 0;
    }
    const rows = records.map((record) => [
      formatTimestamp(record.time),
      record.actor,
      record.action,
      record.branch ?? '-',
      record.result,
      String(record.status),
      record.detail ?? '',
    ]);
    ctx.print(renderTable(['TIME (UTC)', 'ACTOR', 'ACTION', 'BRANCH', 'RESULT', 'STATUS', 'DETAIL'], rows));
    return 0;
  },
};

function parseLimit(text: string | undefined): number {
  if (text === undefined) return 50;
  const limit = Number(text);
  if (!/^\d+$/.test(text) || limit < 1 || limit > 1000) {
    throw new UsageError(`--limit must be a whole number from 1 to 1000, got ${JSON.stringify(text)}`, 'audit');
  }
  return limit;
}
