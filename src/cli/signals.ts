// Graceful stop on SIGTERM / SIGINT: run `stop`, exit 0; a second signal or a
// stop that overruns its bound exits at once with 1, so an orchestrator never
// waits on a wedged process.

import type { Logger } from 'pino';
import { stopTracing } from '../observability/tracing.ts';

export interface StopOnSignalsOptions {
  log: Logger;
  /** The stop's own grace; the hard bound adds a few seconds for the rest. */
  graceMs: number;
}

export function stopOnSignals(stop: () => Promise<void>, options: StopOnSignalsOptions): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    options.log.info({ signal }, 'stopping');
    const hardStop = setTimeout(() => {
      options.log.error('stop took too long: exiting');
      process.exit(1);
    }, options.graceMs + 5_000);
    hardStop.unref();
    // The spans of the last requests leave before the process does.
    stop()
      .finally(stopTracing)
      .then(
        () => {
          options.log.info('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          options.log.error({ err: error }, 'stop failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
