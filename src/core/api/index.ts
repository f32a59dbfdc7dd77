/** The agent API contract: request and response schemas, their types, the route table, the OpenAPI document. */
export * from './fields.ts';
export * from './requests.ts';
export * from './responses.ts';
export * from './routes.ts';
export { openApiDocument, errorStatuses } from './openapi.ts';
