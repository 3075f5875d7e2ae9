// Bounded waiting for a stop(): wait for work to settle, but never longer than
// the bound, so one wedged task can't hold a shutdown hostage.

/** True when every promise settled within `ms`, false when the time ran out first. */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, ms, false);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
