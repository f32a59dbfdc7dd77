import { createBranchBody, type CreateBranchBody } from '../core/api/index.ts';
import { parseDuration, DURATION_RULE } from '../core/durations.ts';
import { branchArg, flagOption, stringOption, stringsOption } from './args.ts';
import type { CommandSpec, OptionValues } from './command.ts';
import { UsageError } from './errors.ts';
import { formatMs } from './format.ts';
import { withProgress } from './progress.ts';
import { redactBranch } from './redact.ts';

export const createCommand: CommandSpec = {
  name: 'create',
  summary: 'create a branch as a copy-on-write snapshot of its parent',
  usage: 'create NAME [--from PARENT] [--ttl 2h] [--label k=v]... [--if-exists return|fail] [--json]',
  description: 'Without --if-exists, creating a name that already exists fails. The password is not printed; use `vela-branch url NAME`.',
  options: {
    from: { type: 'string' },
    ttl: { type: 'string' },
    label: { type: 'string', multiple: true },
    'if-exists': { type: 'string' },
    json: { type: 'boolean' },
  },
  optionHelp: [
    ['--from PARENT', "branch to snapshot (default: the agent's default, main)"],
    ['--ttl DURATION', 'delete automatically after e.g. 30m, 2h, 7d'],
    ['--label k=v', 'attach a label; repeatable'],
    ['--if-exists MODE', '"return" hands back the existing branch, "fail" exits 1'],
    ['--json', 'print the result as JSON (password removed)'],
  ],
  positionals: { min: 1, max: 1 },
  examples: ['vela-branch create pr-1', 'vela-branch create qa-login --from staging --ttl 2d --label owner=ana'],
  async run(ctx, { args, values }) {
    const body = buildCreateBody(args[0], values);
    const started = ctx.now();
    const result = await withProgress(ctx.progress(`creating ${body.name}…`), () => ctx.client.create(body));
    if (flagOption(values, 'json')) {
      ctx.print(JSON.stringify({ ...result, branch: redactBranch(result.branch) }, null, 2));
      return 0;
    }
    const branch = result.branch;
    const from = branch.parent ? ` from ${branch.parent}` : '';
    if (!result.created) {
      ctx.print(`✓ ${branch.name} already exists${from} · ${branch.state} · port ${branch.port}`);
    } else {
      const took = branch.timings.createMs != null ? `${formatMs(branch.timings.createMs)} (agent)` : `${formatMs(ctx.now() - started)}`;
      ctx.print(`✓ created ${branch.name}${from} in ${took} · port ${branch.port}`);
    }
    ctx.print(`  connect: vela-branch psql ${branch.name}   ·   URI: vela-branch url ${branch.name}`);
    return 0;
  },
};

/** Builds the request body and checks it with the agent's own schema, so mistakes fail before any request. */
export function buildCreateBody(nameArg: string | undefined, values: OptionValues): CreateBranchBody {
  const name = branchArg(nameArg, 'create');
  const parentArg = stringOption(values, 'from');
  const parent = parentArg === undefined ? undefined : branchArg(parentArg, 'create');
  const ttl = stringOption(values, 'ttl');
  if (ttl !== undefined && parseDuration(ttl) === null) {
    throw new UsageError(`invalid --ttl ${JSON.stringify(ttl)}: ${DURATION_RULE}`, 'create');
  }
  const ifExists = stringOption(values, 'if-exists');
  if (ifExists !== undefined && ifExists !== 'return' && ifExists !== 'fail') {
    throw new UsageError(`--if-exists must be "return" or "fail", got ${JSON.stringify(ifExists)}`, 'create');
  }
  const labels = parseLabels(stringsOption(values, 'label'));
  const body = {
    name,
    ...(parent && { parent }),
    ...(ttl && { ttl }),
    ...(labels && { labels }),
    ...(ifExists && { ifExists }),
  };
  const checked = createBranchBody.safeParse(body);
  if (!checked.success) {
    throw new UsageError(describeIssue(checked.error.issues[0]), 'create');
  }
  return checked.data;
}

function parseLabels(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--label needs key=value, got ${JSON.stringify(pair)}`, 'create');
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

type Issue = { path: PropertyKey[]; message: string; issues?: Issue[] };

/** "labels.Bad Key: label keys are …": zod wraps record-key problems one level down, so look there too. */
function describeIssue(issue: Issue | undefined): string {
  if (!issue) return 'invalid request';
  const inner = issue.issues?.[0];
  const where = issue.path.length ? `${issue.path.map(String).join('.')}: ` : '';
  return `${where}${inner?.message ?? issue.message}`;
}
