// Packages only some processes need — a Redis client, a PostgreSQL driver, the NATS client,
// worker threads — are loaded by the process that uses them, on first use, rather than by
// every process at import: with the certificate maker (loaded likewise, in http/tls.ts) they
// cost each process about half a second of CPU at start, and a split app starts one process
// per replica.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `name`'s exports (a CommonJS package), loaded the first time the result is called. */
export function loadOnUse<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
