// The client workflows the action, the app and the CLI share; each keeps its own renderer.
export { branchLabels, prBranchName, runBranchName, type BranchOrigin } from './branch-names.ts';
export { createBody, ensureBranch, type BranchRequest, type EnsureParams, type EnsureResult } from './ensure.ts';
export { deleteIfPresent, type DeleteOutcome } from './delete.ts';
export { BranchNotReadyError, requireConnection, waitUntilReady, type WaitOptions } from './ready.ts';
export { branchTiming, type BranchTiming } from './timing.ts';
