// The last requests answered with a 5xx, each with its request id: what an operator looking at
// the dashboard follows into the logs (and, traced, into the trace, which names the same id).
// Bounded: a burst of errors keeps the latest, never all of them.

export interface RecentError {
  /** ISO time it was answered. */
  at: string;
  status: number;
  method: string;
  /** Normalised, without the query. */
  path: string;
  service: string;
  requestId: string;
}

/** How many a process keeps, and the dashboard shows. */
export const RECENT_ERRORS_KEPT = 50;

export class RecentErrors {
  readonly #kept: RecentError[] = [];

  add(error: RecentError): void {
    this.#kept.push(error);
    if (this.#kept.length > RECENT_ERRORS_KEPT) this.#kept.shift();
  }

  /** Oldest first. */
  list(): RecentError[] {
    return [...this.#kept];
  }
}

/**
 * `lists` from several processes as one: the latest RECENT_ERRORS_KEPT, oldest first, each
 * request once (the gateway's entry and its replica's name the same request id; the first
 * list's wins).
 */
export function mergeRecentErrors(lists: RecentError[][]): RecentError[] {
  const seen = new Map<string, RecentError>();
  for (const list of lists) for (const error of list) if (!seen.has(error.requestId)) seen.set(error.requestId, error);
  return [...seen.values()].sort((a, b) => a.at.localeCompare(b.at)).slice(-RECENT_ERRORS_KEPT);
}
