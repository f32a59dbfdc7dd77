/** An error meant for the caller: its message says what to fix and never carries secrets. */
export class VelaError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;
  constructor(code: string, status: number, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'VelaError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

export const badRequest = (message: string) => new VelaError('bad_request', 400, message);
export const notFound = (message: string) => new VelaError('not_found', 404, message);
export const conflict = (message: string, details?: Record<string, unknown>) => new VelaError('conflict', 409, message, details);
export const forbidden = (message: string) => new VelaError('forbidden', 403, message);
export const unauthorized = (message: string) => new VelaError('unauthorized', 401, message);
export const insufficientStorage = (message: string) => new VelaError('insufficient_storage', 507, message);
export const unavailable = (message: string) => new VelaError('unavailable', 503, message);
/** No room to run one more branch, and no idle branch could be suspended to make some. */
export const capacityFull = (message: string) => new VelaError('capacity', 503, message);
