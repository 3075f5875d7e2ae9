// Both in-process backends answer list() identically: ascending key order (UTF-16 code
// units, what `<` compares), then the prefix filter and the page start, then the limit.

import type { ListOptions } from './types.ts';

/** A caller's mistake is a RangeError with the caller's stack, checked alike by every adapter. */
export function checkListOptions(options: ListOptions): void {
  const { limit, after } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`list limit must be a non-negative integer, got ${limit}`);
  }
  if (after !== undefined && typeof after !== 'string') {
    throw new RangeError(`list after must be a key (a string), got ${typeof after}`);
  }
}

export function selectKeys(keys: Iterable<string>, options: ListOptions = {}): string[] {
  checkListOptions(options);
  const { prefix, limit, after } = options;
  const selected: string[] = [];
  for (const key of keys) {
    if ((prefix === undefined || key.startsWith(prefix)) && (after === undefined || key > after)) selected.push(key);
  }
  // Sort with `<` rather than localeCompare: the order must not depend on the host's locale.
  selected.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return limit === undefined ? selected : selected.slice(0, limit);
}
