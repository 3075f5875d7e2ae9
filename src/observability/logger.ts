// Logs are JSON events on stdout (12-factor), one object per line; a person
// at a terminal gets them pretty-printed instead.

import { type DestinationStream, pino, type Logger } from 'pino';
import { loadOnUse } from '../shared/load-on-use.ts';
import { activeTraceFields, tracesWanted } from './tracing.ts';
// A CommonJS module whose named export Node can't see from ESM; its default is the module.
import sonicBoom from 'sonic-boom';

// Only a person at a terminal needs it.
const pretty = loadOnUse<typeof import('pino-pretty')>('pino-pretty');

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
    // A line written while a request, call, event or task is traced names its trace and span.
    ...(tracesWanted() ? { mixin: activeTraceFields } : {}),
  };
  // pino-pretty as a stream in this thread, not a transport worker: a log line
  // written just before exit is never lost.
  if (options.pretty ?? process.stdout.isTTY) return pino(settings, pretty()({ colorize: true, sync: true }));
  const logger: Logger = pino(
    settings,
    stdoutSink((count) => logger.warn({ dropped: count }, 'log lines dropped: stdout was not being read')),
  );
  return logger;
}

/**
 * stdout as the logger writes to it. Lines are batched into writes of up to 4 KiB, flushed
 * at least every 100 ms: with stdout a pipe (a container's log collector), one write(2)
 * per access-log line halved throughput (bench/pipeline.ts).
 *
 * Asynchronous and bounded: a log collector that stops reading without closing the pipe
 * must never stall the process. The writes wait (off the event loop) while MAX_BUFFERED
 * bytes pile up; past that, lines are dropped and counted, and the count is logged once
 * writing resumes. A closed reader (EPIPE) drops everything after it. What is buffered at
 * exit is written synchronously, for at most EXIT_FLUSH_MS; only a SIGKILL, a stalled
 * reader or a gone one loses those lines.
 *
 * A SonicBoom of our own rather than pino.destination(): that one flushes at exit too, with
 * no bound (it runs before this code sets one), and its sonic-boom 4 retried a write that
 * failed with EPIPE every 100 ms, forever. A child whose supervisor was killed, with a line
 * still buffered for the pipe the supervisor read, never exited (issue 12).
 */
function stdoutSink(reportDropped: (count: number) => void): DestinationStream {
  // A full pipe (EAGAIN) is retried: forever while the process runs, since the lines wait
  // off the event loop, and until this deadline once it exits.
  let exitDeadline = Infinity;
  const destination = new sonicBoom.SonicBoom({
    fd: 1,
    minLength: 4096,
    maxLength: MAX_BUFFERED,
    sync: false,
    retryEAGAIN: () => Date.now() < exitDeadline,
  });
  let dropped = 0;
  let broken = false;
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
  setInterval(() => {
    if (broken) return;
    if (dropped > 0) {
      const count = dropped;
      dropped = 0;
      reportDropped(count);
    }
    destination.flush();
  }, 100).unref();
  process.once('exit', () => {
    if (broken) return;
    exitDeadline = Date.now() + EXIT_FLUSH_MS;
    try {
      destination.flushSync();
    } catch {
      // The reader is gone (EPIPE), or still not reading after EXIT_FLUSH_MS: exit anyway.
    }
  });
  return {
    write(line: string) {
      if (!broken) destination.write(line);
    },
  };
}

/** Lines buffered for stdout before new ones are dropped: minutes of normal logging. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** How long the flush at exit waits for a reader that is not reading. */
const EXIT_FLUSH_MS = 1000;

function countLines(data: string): number {
  let lines = 0;
  for (let at = data.indexOf('\n'); at !== -1; at = data.indexOf('\n', at + 1)) lines++;
  return Math.max(lines, 1);
}
