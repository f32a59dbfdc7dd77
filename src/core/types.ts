// The API's types live with their schemas in core/api; this module keeps older import paths working.
export type { Branch, ConnectionInfo, CreateResult, ApiErrorBody } from './api/responses.ts';
export type { BranchState, StorageKind } from './api/fields.ts';
