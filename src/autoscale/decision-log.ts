// Every scaling decision is an event: a JSON log line with the reason and the signals, a
// per-pool counter, and a ring of recent decisions that `cleave status` shows.

import type { Logger } from 'pino';
import type { ScaleDecision } from './autoscaler.ts';

export interface ScaleCounts {
  up: number;
  down: number;
}

export class DecisionLog {
  readonly #capacity: number;
  readonly #recent: ScaleDecision[] = [];
  readonly #counts = new Map<string, ScaleCounts>();
  readonly #log: Logger;

  constructor(log: Logger, capacity = 50) {
    this.#log = log;
    this.#capacity = capacity;
  }

  record(decision: ScaleDecision): void {
    const direction = decision.to > decision.from ? 'up' : 'down';
    const counts = this.countsOf(decision.service);
    counts[direction] += 1;
    this.#counts.set(decision.service, counts);
    this.#recent.push(decision);
    if (this.#recent.length > this.#capacity) this.#recent.shift();
    const { service, from, to, reason, signals } = decision;
    this.#log.info({ service, from, to, direction, reason, signals }, `scaled ${service} ${direction} to ${to}`);
  }

  countsOf(service: string): ScaleCounts {
    return { ...(this.#counts.get(service) ?? { up: 0, down: 0 }) };
  }

  /** Oldest first; of one service when named. */
  recent(service?: string): ScaleDecision[] {
    return this.#recent.filter((decision) => service === undefined || decision.service === service);
  }
}
