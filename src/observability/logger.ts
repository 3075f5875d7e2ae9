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
    // "level":"info" reads better in a log search than pino's "level":30.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // pino-pretty as a stream in this thread, not a transport worker: a log line
  // written just before exit is never lost.
  if (options.pretty ?? process.stdout.isTTY) return pino(settings, pretty({ colorize: true, sync: true }));
  // Lines are batched into writes of up to 4 KiB, flushed at least every 100 ms.
  // With stdout a pipe (a container's log collector), one write(2) per access-log
  // line halved throughput (bench/pipeline.ts). What is left is written on
  // exit (pino does that only for async destinations); only a SIGKILL can lose
  // the last 100 ms of lines.
  const destination = pino.destination({ dest: 1, minLength: 4096, sync: true });
  setInterval(() => destination.flush(), 100).unref();
  process.once('exit', () => destination.flushSync());
  return pino(settings, destination);
}
