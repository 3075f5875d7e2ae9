// Both in-process backends answer list() identically: ascending key order (UTF-16 code
// units, what `<` compares), then the prefix filter, then the limit.

import type { ListOptions } from './types.ts';

export function selectKeys(keys: Iterable<string>, options: ListOptions = {}): string[] {
  const { prefix, limit } = options;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`list limit must be a non-negative integer, got ${limit}`);
  }
  const selected: string[] = [];
  for (const key of keys) {
    if (prefix === undefined || key.startsWith(prefix)) selected.push(key);
  }
  // Sort with `<` rather than localeCompare: the order must not depend on the host's locale.
  selected.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return limit === undefined ? selected : selected.slice(0, limit);
}
