// A child process's side of split-mode metrics: a snapshot of its registry to the supervisor
// every second, and one more as it stops, so a replica that drains away loses no count.

import type { IpcChannel } from '../ipc/channel.ts';
import { type MetricsMessage, PROTOCOL_VERSION } from '../ipc/messages.ts';
import type { Metrics } from './metrics.ts';

const REPORT_MS = 1000;

/** Starts the reports; the function returned sends the last one and resolves once it is written. */
export function reportMetrics(channel: IpcChannel, metrics: Metrics): () => Promise<void> {
  const send = async (): Promise<void> => {
    const snapshot = await metrics.snapshot();
    if (channel.closed) return;
    const errors = metrics.recentErrors.list();
    const message: MetricsMessage = { cleave: PROTOCOL_VERSION, type: 'metrics', snapshot };
    if (errors.length > 0) message.errors = errors;
    await new Promise<void>((resolve) => channel.send(message, () => resolve()));
  };
  const timer = setInterval(() => void send().catch(() => {}), REPORT_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await send().catch(() => {});
  };
}
