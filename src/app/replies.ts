import { COMMAND_SUMMARY } from './commands.ts';

export function helpText(reason?: string): string {
  const intro = reason ? `I didn't understand that: ${reason}.\n\n` : '';
  const rows = COMMAND_SUMMARY.map(([cmd, what]) => `| \`${cmd}\` | ${what} |`);
  return `${intro}Commands (first line of a new comment; needs write access):\n\n| command | does |\n|---|---|\n${rows.join('\n')}`;
}

/** A reply to a command comment: quotes the command line so the thread reads well, then the answer. */
export function renderReply(params: { line: string; actor: string; ok: boolean; text: string }): string {
  const mark = params.ok ? '✅' : '❌';
  return `> ${params.line}\n\n@${params.actor} ${mark} ${params.text}`;
}
