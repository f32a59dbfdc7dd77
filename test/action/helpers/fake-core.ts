import type { ActionsCore, SummaryLike } from '../../../src/action/core.ts';

export interface CoreCall {
  fn: keyof ActionsCore | 'summary.write';
  args: unknown[];
}

export interface FakeCore {
  core: ActionsCore;
  /** Every call in order, so tests can check that masking came before printing. */
  calls: CoreCall[];
  outputs: Record<string, string>;
  exported: Record<string, string>;
  state: Record<string, string>;
  secrets: string[];
  summary: string[];
  failed: string[];
  idTokenAudiences: (string | undefined)[];
  /** Everything that would reach the job log (info/debug/notice/warning/error annotations). */
  logText(): string;
}

/** A typed, recording stand-in for @actions/core (the actions/typescript-action fixture pattern). */
export function fakeCore(inputs: Record<string, string>, opts: { state?: Record<string, string>; idToken?: string } = {}): FakeCore {
  const calls: CoreCall[] = [];
  const outputs: Record<string, string> = {};
  const exported: Record<string, string> = {};
  const state: Record<string, string> = { ...opts.state };
  const secrets: string[] = [];
  const summaryParts: string[] = [];
  const pending: string[] = [];
  const failed: string[] = [];
  const idTokenAudiences: (string | undefined)[] = [];
  const record = (fn: CoreCall['fn'], ...args: unknown[]) => calls.push({ fn, args });
  const text = (m: string | Error) => (m instanceof Error ? m.message : m);

  const summary: SummaryLike = {
    addRaw(t: string, addEOL = false) {
      pending.push(addEOL ? `${t}\n` : t);
      return summary;
    },
    async write() {
      record('summary.write', pending.join(''));
      summaryParts.push(pending.join(''));
      pending.length = 0;
      return summary;
    },
  };

  const core: ActionsCore = {
    getInput: (name) => inputs[name] ?? '',
    setSecret: (s) => {
      record('setSecret', s);
      secrets.push(s);
    },
    setOutput: (name, value) => {
      record('setOutput', name, value);
      outputs[name] = String(value);
    },
    exportVariable: (name, value) => {
      record('exportVariable', name, value);
      exported[name] = String(value);
    },
    saveState: (name, value) => {
      record('saveState', name, value);
      state[name] = String(value);
    },
    getState: (name) => state[name] ?? '',
    getIDToken: async (aud) => {
      record('getIDToken', aud);
      idTokenAudiences.push(aud);
      if (!opts.idToken) throw new Error('no OIDC token in this test');
      return opts.idToken;
    },
    info: (m) => record('info', m),
    debug: (m) => record('debug', m),
    notice: (m) => record('notice', text(m)),
    warning: (m) => record('warning', text(m)),
    setFailed: (m) => {
      record('setFailed', text(m));
      failed.push(text(m));
    },
    summary,
  };

  return {
    core,
    calls,
    outputs,
    exported,
    state,
    secrets,
    summary: summaryParts,
    failed,
    idTokenAudiences,
    logText: () =>
      calls
        .filter((c) => ['info', 'debug', 'notice', 'warning', 'setFailed'].includes(c.fn))
        .map((c) => c.args.join(' '))
        .join('\n'),
  };
}
