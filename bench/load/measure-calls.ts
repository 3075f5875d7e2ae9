// How every calls benchmark measures: `total` calls, `concurrency` at a time, each one timed;
// throughput over the whole run, p50 and p99 of the single calls. Shared by cleave's bench
// app and the Moleculer node, so both are measured by the very same loop.

import { performance } from 'node:perf_hooks';

export interface CallFigures {
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export async function measureCalls(
  call: () => Promise<unknown>,
  total: number,
  concurrency: number,
): Promise<CallFigures> {
  const latencies = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++;
        const t0 = performance.now();
        await call();
        latencies[index] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  const at = (share: number) => Number((latencies[Math.floor(total * share)] ?? Number.NaN).toFixed(4));
  return { callsPerSecond: Math.round(total / seconds), p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Enough calls first for the JIT and the connections to settle. */
export async function warmUp(call: () => Promise<unknown>, calls = 2000): Promise<void> {
  for (let i = 0; i < calls; i++) await call();
}

/** Has the app on `port` run its measuring loop (`path`, a route calling `measureCalls`). */
export async function loop(port: number, path: string, calls: number, concurrency: number): Promise<CallFigures> {
  const response = await fetch(`http://127.0.0.1:${port}${path}?calls=${calls}&concurrency=${concurrency}`);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as CallFigures;
}
