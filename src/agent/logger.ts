import pino from 'pino';
import type { Logger } from 'pino';
import type { LogFn } from './engine.ts';

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
