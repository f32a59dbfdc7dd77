// The request schemas live in core/api; this module keeps older import paths working.
export { branchName, duration, labels } from './api/fields.ts';
export { createBranchBody, patchBranchBody, branchParams, deleteQuery, resetQuery } from './api/requests.ts';
export type { CreateBranchBody, PatchBranchBody } from './api/requests.ts';
