import type { AnnotationProperties, InputOptions } from '@actions/core';

/** The part of the job summary we use; the real `core.summary` satisfies it and fakes can too. */
export interface SummaryLike {
  addRaw(text: string, addEOL?: boolean): SummaryLike;
  write(options?: { overwrite?: boolean }): Promise<unknown>;
}

/**
 * The slice of `@actions/core` the action uses. run() takes one of these so tests can inject
 * a recording fake (the actions/typescript-action pattern) instead of mocking the module.
 */
export interface ActionsCore {
  getInput(name: string, options?: InputOptions): string;
  setSecret(secret: string): void;
  setOutput(name: string, value: unknown): void;
  exportVariable(name: string, value: unknown): void;
  saveState(name: string, value: unknown): void;
  getState(name: string): string;
  getIDToken(audience?: string): Promise<string>;
  info(message: string): void;
  debug(message: string): void;
  notice(message: string | Error, properties?: AnnotationProperties): void;
  warning(message: string | Error, properties?: AnnotationProperties): void;
  setFailed(message: string | Error): void;
  summary: SummaryLike;
}
