import pino from 'pino';
import type { Logger } from 'pino';

/** How the engine's parts log: a level, one line, optional structured fields. */
export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Structured JSON logs (pino); `password` fields are censored wherever they appear. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { service: 'vela-agent' },
      redact: { paths: ['password', '*.password', '*.*.password', 'req.headers.authorization'], censor: '***' },
    },
    destination,
  );
}

export function engineLog(logger: Logger): LogFn {
  return (level, msg, fields) => logger[level](fields ?? {}, msg);
}
