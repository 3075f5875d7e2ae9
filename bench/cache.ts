// Benchmark: the response cache. The split gateway in front of two replicas against nginx's
// proxy_cache in front of the very same replicas, in one run:
//   - throughput and p99 of a read served from the cache, and of the same read uncached;
//   - bursts of 1000 concurrent requests for a key nobody asked yet (a 200 ms read): how many
//     reach a replica (cleave coalesces misses; nginx with proxy_cache_lock does too).
//
//   npm run bench:cache     (writes bench/results/cache.json; needs nginx: apt-get install nginx)

import { Agent, Client, request } from 'undici';
import { generateLoad, type LoadResult } from './load/generate.ts';
import { requireNginx, startNginx } from './load/nginx.ts';
import { machine, ratio, refuseErrors, writeResults } from './load/report.ts';
import { replicaSockets, startServer } from './load/server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const BURST = 1000;
const BURSTS = 3;
const APP = 'bench/fixtures/cached-app';
const QUIET = { HOST: '127.0.0.1', CLEAVE_ACCESS_LOG: 'off', CLEAVE_RATE_LIMIT: 'off', CLEAVE_TASK_THREADS: '1' };

interface Result extends LoadResult {
  name: string;
}

async function measure(name: string, url: string): Promise<Result> {
  await generateLoad(url, { connections: CONNECTIONS, durationSeconds: 2 }); // warm-up (and fill)
  return { name, ...(await generateLoad(url, { connections: CONNECTIONS, durationSeconds: DURATION_S })) };
}

/** Calls of /api/slow so far, asked of each replica on its own socket. */
async function originRuns(sockets: string[]): Promise<number> {
  let total = 0;
  for (const socketPath of sockets) {
    const client = new Client('http://localhost', { socketPath });
    const { body } = await client.request({ method: 'GET', path: '/api/runs' });
    total += ((await body.json()) as { runs: number }).runs;
    await client.close();
  }
  return total;
}

/** BURSTS bursts of BURST concurrent GETs, each for a key not asked before: origin calls per burst. */
async function bursts(name: string, port: number, sockets: string[], tag: string): Promise<number[]> {
  const agent = new Agent({ connections: BURST, pipelining: 0 });
  const counts: number[] = [];
  try {
    for (let burst = 0; burst < BURSTS; burst++) {
      const before = await originRuns(sockets);
      const url = `http://127.0.0.1:${port}/api/slow?burst=${tag}-${burst}`;
      const statuses = await Promise.all(
        Array.from({ length: BURST }, async () => {
          const { statusCode, body } = await request(url, { dispatcher: agent });
          await body.dump();
          return statusCode;
        }),
      );
      const failed = statuses.filter((status) => status !== 200).length;
      if (failed > 0) throw new Error(`${name}: ${failed} of ${BURST} burst requests failed`);
      counts.push((await originRuns(sockets)) - before);
    }
  } finally {
    await agent.close();
  }
  return counts;
}

requireNginx('bench/cache.ts');

const results: Result[] = [];
const origin: Record<string, number[]> = {};
const split = await startServer('cleave start', [process.execPath, 'bin/cleave.js', 'start', APP], QUIET);
try {
  const sockets = await replicaSockets(split, 2);
  const gateway = `http://127.0.0.1:${split.port}`;
  results.push(await measure('cleave gateway, cached', `${gateway}/api/feed`));
  results.push(await measure('cleave gateway, not cached', `${gateway}/api/feed-live`));
  origin['cleave gateway'] = await bursts('cleave gateway', split.port, sockets, 'cleave');
  // The same rules as the route's: 60 s for 200 and 404, one fill per key while others wait.
  const nginx = await startNginx(sockets, {
    http: 'proxy_cache_path {dir}/cache levels=1:2 keys_zone=api:10m max_size=64m inactive=10m use_temp_path=off;',
    locations: 'location = /api/feed-live { {proxy} }',
    location: 'proxy_cache api; proxy_cache_valid 200 404 60s; proxy_cache_lock on; proxy_cache_lock_timeout 5s;',
  });
  try {
    const url = `http://127.0.0.1:${nginx.port}`;
    results.push(await measure('nginx proxy_cache, cached', `${url}/api/feed`));
    results.push(await measure('nginx, not cached', `${url}/api/feed-live`));
    origin['nginx proxy_cache_lock'] = await bursts('nginx', nginx.port, sockets, 'nginx');
  } finally {
    await nginx.stop();
  }
} finally {
  await split.stop();
}

const [cached, uncached, nginxCached, nginxUncached] = results as [Result, Result, Result, Result];
refuseErrors(results);
const summary = {
  ...machine(),
  connections: CONNECTIONS,
  durationSeconds: DURATION_S,
  results,
  originCallsPerBurst: { burst: BURST, ...origin },
  ratios: {
    cachedOverNginxCached: ratio(cached.requestsPerSecond, nginxCached.requestsPerSecond),
    p99CachedOverNginxCached: ratio(cached.p99Ms, nginxCached.p99Ms),
    cachedOverUncached: ratio(cached.requestsPerSecond, uncached.requestsPerSecond),
    nginxCachedOverUncached: ratio(nginxCached.requestsPerSecond, nginxUncached.requestsPerSecond),
  },
};
writeResults('cache', summary);
console.table(results);
console.log(
  `cached: cleave / nginx proxy_cache ${summary.ratios.cachedOverNginxCached}× throughput, ` +
    `p99 ${summary.ratios.p99CachedOverNginxCached}×; cached / uncached: cleave ${summary.ratios.cachedOverUncached}×, ` +
    `nginx ${summary.ratios.nginxCachedOverUncached}×; origin calls per ${BURST}-request burst: ` +
    Object.entries(origin)
      .map(([name, counts]) => `${name} ${counts.join(', ')}`)
      .join('; ') +
    ` (${cached.tool}, ${CONNECTIONS} connections, ${DURATION_S} s, ${summary.node}, ${summary.cpu})`,
);
