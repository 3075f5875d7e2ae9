// Deadlines for in-process calls without a timer per call: a setTimeout and a Promise.race
// per call cost more than a small action itself (bench/calls.ts). Pending calls are linked in
// a list — a Set was no better: hashing a fresh object on every add cost 2× the whole wrap —
// and one timer is armed for the soonest deadline, re-armed only when a sooner one arrives,
// which is rare when calls carry similar timeouts.

export abstract class Expiring {
  abstract readonly deadline: number;
  /** The deadline passed while it was still pending. */
  abstract expire(): void;
  /** @internal the list Deadlines keeps */
  previous: Expiring | undefined;
  /** @internal */
  next: Expiring | undefined;
  /** @internal */
  watched = false;
}

const MAX_DELAY_MS = 2 ** 31 - 1;

export class Deadlines {
  #head: Expiring | undefined;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;

  add(entry: Expiring): void {
    entry.watched = true;
    // Pending calls keep the process alive until their deadline, as a timer each would.
    if (this.#head === undefined) this.#timer?.ref();
    entry.next = this.#head;
    if (this.#head) this.#head.previous = entry;
    this.#head = entry;
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline);
  }

  /** Settled in time: no longer watched. */
  delete(entry: Expiring): void {
    if (!entry.watched) return;
    entry.watched = false;
    if (entry.previous) entry.previous.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.previous = entry.previous;
    entry.previous = entry.next = undefined;
    // Nothing pending: the armed timer may fire later, but holds no process open (ref and
    // unref flip a flag; clearing and re-arming it per call would cost a timer per call).
    if (this.#head === undefined) this.#timer?.unref();
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = at;
    // setTimeout takes at most 2^31-1 ms; a later deadline is re-armed when that passes.
    this.#timer = setTimeout(() => this.#sweep(), Math.min(MAX_DELAY_MS, Math.max(0, at - Date.now())));
    if (this.#head === undefined) this.#timer.unref();
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    let soonest = Infinity;
    for (let entry = this.#head; entry !== undefined;) {
      const next = entry.next;
      if (entry.deadline <= now) {
        this.delete(entry);
        entry.expire();
      } else if (entry.deadline < soonest) {
        soonest = entry.deadline;
      }
      entry = next;
    }
    if (soonest !== Infinity) this.#arm(soonest);
  }
}
