import { flagOption } from './args.ts';
import type { CommandSpec } from './command.ts';

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'show what the agent set aside instead of acting on it (unreadable records, kept and quarantined volumes)',
  usage: 'doctor [--json]',
  description:
    'An unreadable registry record is moved to state/quarantine/ and its volume kept; a volume no record claims is renamed into quarantine. Nothing here is deleted by the agent: repair or remove it, then restart the agent.',
  options: { json: { type: 'boolean' } },
  optionHelp: [['--json', 'print the report as JSON']],
  positionals: { min: 0, max: 0 },
  examples: ['vela-branch doctor', 'vela-branch doctor --json'],
  async run(ctx, { values }) {
    const report = await ctx.client.doctor();
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify(report, null, 2));
      return 0;
    }
    if (report.ok) {
      ctx.print('no problems: every record is readable and every volume has one');
      return 0;
    }
    for (const r of report.records) {
      ctx.print(`unreadable record of branch ${r.branch}: ${r.reason ?? 'see the agent log'} (moved to ${r.file})`);
    }
    for (const v of report.unclaimed) ctx.print(`volume ${v} kept without a readable record (nothing uses it; nothing removes it)`);
    for (const q of report.volumes) ctx.print(`volume of ${q.branch} no record claimed, quarantined as ${q.volume}`);
    return 1;
  },
};
