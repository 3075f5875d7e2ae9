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
  // line halved throughput (bench/pipeline.ts).
  //
  // Asynchronous and bounded: a log collector that stops reading without closing
  // the pipe must never stall the process. The writes wait (off the event loop)
  // while MAX_BUFFERED bytes pile up; past that, lines are dropped and counted,
  // and the count is logged once writing resumes. A closed reader (EPIPE) drops
  // everything after it. What is buffered at exit is written synchronously, for at
  // most a second; only a SIGKILL or a stalled reader loses those lines.
  const destination = pino.destination({
    dest: 1,
    minLength: 4096,
    maxLength: MAX_BUFFERED,
    sync: false,
    retryEAGAIN: () => Date.now() < exitDeadline,
  });
  let dropped = 0;
  let broken = false;
  let exitDeadline = Infinity;
  destination.on('drop', (data: string) => {
    dropped += countLines(data);
  });
  destination.on('error', () => {
    // EPIPE or worse: nobody is reading. Keep serving; the lines go nowhere.
    broken = true;
  });
  // The supervisor also relays its children's lines through process.stdout; an EPIPE there
  // would be an uncaught 'error' and take the whole app down with the log collector.
  if (process.stdout.listenerCount('error') === 0) process.stdout.on('error', () => {});
  const logger = pino(settings, destination);
  setInterval(() => {
    if (broken) return;
    if (dropped > 0) {
      const count = dropped;
      dropped = 0;
      logger.warn({ dropped: count }, 'log lines dropped: stdout was not being read');
    }
    destination.flush();
  }, 100).unref();
  process.once('exit', () => {
    if (broken) return;
    exitDeadline = Date.now() + 1000;
    try {
      destination.flushSync();
    } catch {
      // Still blocked after a second, or closed: the process exits anyway.
    }
  });
  return logger;
}

/** Lines buffered for stdout before new ones are dropped: minutes of normal logging. */
const MAX_BUFFERED = 8 * 1024 * 1024;

function countLines(data: string): number {
  let lines = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) lines++;
  return Math.max(lines, 1);
}
