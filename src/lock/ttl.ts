// The one rule every Lock adapter applies to a lease's ttl, before reaching any store: JSON
// and Redis would turn NaN or Infinity into something else, and a lease that never ends
// would outlive its holder.

export function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`lock ttlMs must be a positive number, got ${ttlMs}`);
  }
}
