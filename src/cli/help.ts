import type { CommandSpec } from './command.ts';

/** Commands served by other modules; listed here so the overview shows the whole tool. */
export const EXTERNAL_COMMANDS: { name: string; usage: string; summary: string; examples: string[] }[] = [
  {
    name: 'agent',
    usage: 'agent [--data-dir DIR] [--listen HOST:PORT] [--storage auto|btrfs|zfs|reflink|copy] [--pg-bin DIR] [--config FILE]',
    summary: 'run the host agent (defaults: ./.vela, 127.0.0.1:7070, auto storage)',
    examples: ['vela-branch agent', 'vela-branch agent --data-dir /srv/vela --listen 0.0.0.0:7070 --storage btrfs'],
  },
  {
    name: 'app',
    usage: 'app',
    summary: 'run the GitHub App (Probot env: APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, PORT)',
    examples: ['APP_ID=123 PRIVATE_KEY="$(cat key.pem)" WEBHOOK_SECRET=... vela-branch app'],
  },
];

const ENVIRONMENT = [
  ['VELA_AGENT_URL', 'agent to talk to (default http://127.0.0.1:7070)'],
  ['VELA_TOKEN', 'bearer token; when unset, ./.vela/admin-token is used if readable'],
];

export function overviewHelp(commands: CommandSpec[]): string {
  const entries = [...EXTERNAL_COMMANDS.map((c) => [c.name, c.summary]), ...commands.map((c) => [c.name, c.summary])];
  const width = Math.max(...entries.map(([n]) => n.length));
  return [
    'vela-branch: copy-on-write PostgreSQL branches for every pull request',
    '',
    'Usage: vela-branch COMMAND [options]',
    '',
    'Commands:',
    ...entries.map(([n, s]) => `  ${n.padEnd(width)}  ${s}`),
    '',
    'Environment:',
    ...ENVIRONMENT.map(([k, v]) => `  ${k.padEnd(14)}  ${v}`),
    '',
    "Run `vela-branch COMMAND --help` for a command's options and examples.",
    '',
    'Examples:',
    '  vela-branch agent &',
    '  vela-branch create pr-1 --ttl 2d',
    '  vela-branch psql pr-1',
    '  vela-branch list',
  ].join('\n');
}

export function commandHelp(spec: Pick<CommandSpec, 'usage' | 'summary' | 'description' | 'optionHelp' | 'examples'>): string {
  const lines = [`Usage: vela-branch ${spec.usage}`, '', capitalise(spec.summary) + '.'];
  if (spec.description) lines.push('', spec.description);
  if (spec.optionHelp?.length) {
    const width = Math.max(...spec.optionHelp.map(([flag]) => flag.length));
    lines.push('', 'Options:', ...spec.optionHelp.map(([flag, what]) => `  ${flag.padEnd(width)}  ${what}`));
  }
  lines.push('', 'Examples:', ...spec.examples.map((example) => `  ${example}`));
  return lines.join('\n');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
