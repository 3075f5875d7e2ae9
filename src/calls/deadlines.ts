// Deadlines for in-process calls without a timer per call: a setTimeout and a Promise.race
// per call cost more than a small action itself (bench/calls.ts measured ctx.call at 3.3× a
// plain function call that way). Pending calls sit in a set; one timer is armed for the
// soonest deadline and re-armed only when a sooner one arrives, which is rare when calls
// carry similar timeouts.

export interface Expiring {
  readonly deadline: number;
  /** The deadline passed while it was still pending. */
  expire(): void;
}

export class Deadlines {
  readonly #pending = new Set<Expiring>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;

  add(entry: Expiring): void {
    this.#pending.add(entry);
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline);
  }

  /** Settled in time: no longer watched. */
  delete(entry: Expiring): void {
    this.#pending.delete(entry);
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, at - Date.now()));
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    let soonest = Infinity;
    for (const entry of this.#pending) {
      if (entry.deadline <= now) {
        this.#pending.delete(entry);
        entry.expire();
      } else if (entry.deadline < soonest) {
        soonest = entry.deadline;
      }
    }
    if (soonest !== Infinity) this.#arm(soonest);
  }
}
