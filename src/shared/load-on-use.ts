// Packages only some processes need — a Redis client, a PostgreSQL driver, the NATS client,
// worker threads, the HTTP client a replica needs only to call another service, the JWT
// library, the static file server, the pretty printer for a terminal — are loaded by the
// process that uses them, on first use, rather than by every process at import: together
// they cost each process most of a second of CPU at start, and a split app starts one
// process per replica.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** An ES module package's exports, imported the first time the result is called. */
export function importOnUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
}

/** `name`'s exports (a CommonJS package), loaded the first time the result is called. */
export function loadOnUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
