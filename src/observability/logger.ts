// Logs are JSON events on stdout (12-factor), one object per line; a person
// at a terminal gets them pretty-printed instead.

import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export interface LoggerOptions {
  level?: string;
  /** @default process.stdout.isTTY */
  pretty?: boolean;
  /** Fields on every line, e.g. { role: 'gateway' }. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // pino-pretty as a stream in this thread, not a transport worker: a log line
  // written just before exit is never lost.
  if (options.pretty ?? process.stdout.isTTY) return pino(settings, pretty({ colorize: true, sync: true }));
  // Asynchronous writes: a synchronous write per access-log line cost ~20% of
  // throughput (bench/pipeline.ts). pino flushes the buffer on a normal exit;
  // a SIGKILL may lose the last lines, the usual trade of production loggers.
  return pino(settings, pino.destination({ dest: 1, sync: false }));
}
