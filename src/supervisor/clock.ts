// Time as the supervisor sees it, behind a narrow interface so restart and stop policies
// are tested with fake time (fixtures/fake-clock.ts) instead of sleeps.

/** Cancels a scheduled callback; calling it after the callback ran does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** Milliseconds on a monotonic scale; only differences between readings mean anything. */
  now(): number;
  /** Runs `callback` once after `ms`. The timer keeps the process alive, like setTimeout. */
  schedule(callback: () => void, ms: number): CancelTimer;
}

// performance.now(), not Date.now(): an uptime or a back-off measured across a wall-clock
// jump (NTP step, suspended VM) must not turn negative or huge.
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  },
};
