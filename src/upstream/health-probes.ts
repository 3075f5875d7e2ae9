// Active health checks: each replica in a pool is asked for HEALTH_PATH every interval,
// over the same keep-alive pool as its traffic. Passive checks (real requests failing) only
// see a replica that refuses connections; a replica whose event loop is stuck accepts them
// and never answers, and only a probe with a deadline tells. A failed probe takes the
// replica out at once; successful ones bring it back (upstream/health.ts), so a replica
// that was out for a blip returns without a restart.

import type { Dispatcher } from 'undici';
import { HEALTH_PATH } from '../http/health-endpoint.ts';
import type { Replica } from './replica.ts';

export interface HealthProbeOptions {
  /** Time between the end of one probe and the start of the next. @default 1000 */
  intervalMs?: number;
  /** A probe not answered 200 within this fails. @default 1000 */
  timeoutMs?: number;
}

interface Watch {
  timer: NodeJS.Timeout | undefined;
  controller: AbortController | undefined;
}

export class HealthProbes {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #watches = new Map<Replica, Watch>();

  constructor(options: HealthProbeOptions = {}) {
    this.#intervalMs = positive('intervalMs', options.intervalMs ?? 1000);
    this.#timeoutMs = positive('timeoutMs', options.timeoutMs ?? 1000);
  }

  /** Probes `replica` through `dispatcher` until unwatch() or stop(). */
  watch(replica: Replica, dispatcher: Dispatcher): void {
    if (this.#watches.has(replica)) return;
    const watch: Watch = { timer: undefined, controller: undefined };
    this.#watches.set(replica, watch);
    this.#schedule(replica, dispatcher, watch);
  }

  unwatch(replica: Replica): void {
    const watch = this.#watches.get(replica);
    if (!watch) return;
    this.#watches.delete(replica);
    clearTimeout(watch.timer);
    watch.controller?.abort();
  }

  stop(): void {
    for (const replica of [...this.#watches.keys()]) this.unwatch(replica);
  }

  #schedule(replica: Replica, dispatcher: Dispatcher, watch: Watch): void {
    // Jitter spreads the probes of replicas added together (a pool starting) over the interval.
    const delay = this.#intervalMs * (0.9 + Math.random() * 0.2);
    watch.timer = setTimeout(() => void this.#probe(replica, dispatcher, watch), delay);
    watch.timer.unref();
  }

  async #probe(replica: Replica, dispatcher: Dispatcher, watch: Watch): Promise<void> {
    const controller = new AbortController();
    watch.controller = controller;
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    let ok = false;
    try {
      const { statusCode, body } = await dispatcher.request({
        path: HEALTH_PATH,
        method: 'GET',
        signal: controller.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      await body.dump();
      ok = statusCode === 200;
    } catch {
      // Refused, reset, timed out or aborted: all the same verdict.
    } finally {
      clearTimeout(timer);
      watch.controller = undefined;
    }
    if (this.#watches.get(replica) !== watch) return; // unwatched meanwhile: its verdict is moot
    replica.recordProbe(ok);
    this.#schedule(replica, dispatcher, watch);
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number of ms, got ${value}`);
  return value;
}
