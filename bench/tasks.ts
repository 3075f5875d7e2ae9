// Benchmark: cleave's promise that a login storm (scrypt hashing) doesn't stall
// light routes. GET /api/posts latency, idle and while a second generator
// hammers POST /api/hash, for scrypt run as a cleave task (worker threads) and
// for the peer, a plain monolith that runs scryptSync on the event loop.
//
//   node --import tsx bench/tasks.ts       (writes bench/results/tasks.json)
//
// BENCH_DURATION sets the seconds per phase (default 10: about 50 s in all).

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { generateLoad, type LoadResult } from './load/generate.ts';
import { pinned } from './load/pinning.ts';
import { ROOT, startServer } from './load/server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const GET_CONNECTIONS = 8;
const HASH_CONNECTIONS = 8;
const WARM_UP_S = 2;
/** The storm starts this long before the GET load and ends this long after it, so GETs only see a full storm. */
const STORM_MARGIN_S = 1;
const HASH_BODY = JSON.stringify({ password: 'correct horse battery staple' });

interface Target {
  name: string;
  appDir: string;
}

const targets: Target[] = [
  { name: 'tasks-inline (scryptSync on the event loop)', appDir: 'bench/fixtures/tasks-inline' },
  { name: 'tasks-offloaded (ctx.run on worker threads)', appDir: 'bench/fixtures/tasks-offloaded' },
];

// Not pinned: the task pool's worker threads need both cores, and the event
// loop competes with them for one. wrk still pins itself (load/pinning.ts).
interface HashLoad {
  hashesPerSecond: number;
  p99Ms: number;
  errors: number;
}

// autocannon, not wrk: a POST body needs no Lua script, and at tens of hashes
// a second it costs the client next to nothing, pinned or not.
async function hashStorm(url: string, durationSeconds: number): Promise<HashLoad> {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: HASH_BODY,
    connections: HASH_CONNECTIONS,
    duration: durationSeconds,
  });
  return {
    hashesPerSecond: Number((result['2xx'] / durationSeconds).toFixed(1)),
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

interface Result {
  name: string;
  idleP50Ms: number;
  idleP99Ms: number;
  idleRps: number;
  stormP50Ms: number;
  stormP99Ms: number;
  stormRps: number;
  stormOverIdleP99: number;
  hashesPerSecond: number;
  hashP99Ms: number;
  idleErrors: number;
  /**
   * wrk counts a GET unanswered after 2 s (its timeout) as an error and leaves
   * it out of the percentiles, so any here make stormP99Ms a lower bound.
   */
  stormGetErrors: number;
  hashErrors: number;
}

async function measure(target: Target): Promise<{ result: Result; tool: LoadResult['tool'] }> {
  const server = await startServer(target.name, [process.execPath, 'bin/cleave.js', 'dev', target.appDir], {
    HOST: '127.0.0.1',
    CLEAVE_ACCESS_LOG: 'off',
  });
  const { port } = server;
  try {
    const posts = `http://127.0.0.1:${port}/api/posts`;
    const hash = `http://127.0.0.1:${port}/api/hash`;
    // Warm-up: JIT on both routes, and every task worker started (they start lazily).
    await Promise.all([
      generateLoad(posts, { connections: GET_CONNECTIONS, durationSeconds: WARM_UP_S }),
      hashStorm(hash, WARM_UP_S),
    ]);
    await sleep(500); // let hashes queued by the warm-up finish
    const idle = await generateLoad(posts, { connections: GET_CONNECTIONS, durationSeconds: DURATION_S });
    const storming = hashStorm(hash, DURATION_S + 2 * STORM_MARGIN_S);
    await sleep(STORM_MARGIN_S * 1000);
    const storm = await generateLoad(posts, { connections: GET_CONNECTIONS, durationSeconds: DURATION_S });
    const hashes = await storming;
    const result: Result = {
      name: target.name,
      idleP50Ms: idle.p50Ms,
      idleP99Ms: idle.p99Ms,
      idleRps: idle.requestsPerSecond,
      stormP50Ms: storm.p50Ms,
      stormP99Ms: storm.p99Ms,
      stormRps: storm.requestsPerSecond,
      stormOverIdleP99: ratio(storm.p99Ms, idle.p99Ms),
      hashesPerSecond: hashes.hashesPerSecond,
      hashP99Ms: hashes.p99Ms,
      idleErrors: idle.errors,
      stormGetErrors: storm.errors,
      hashErrors: hashes.errors,
    };
    return { result, tool: storm.tool };
  } finally {
    await server.stop();
  }
}

function ratio(numerator: number, denominator: number): number {
  return Number((numerator / denominator).toFixed(2));
}

const results: Result[] = [];
let tool: LoadResult['tool'] = 'wrk';
for (const target of targets) {
  const measured = await measure(target);
  results.push(measured.result);
  tool = measured.tool;
}
const [inline, offloaded] = results as [Result, Result];
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  settings: {
    durationSeconds: DURATION_S,
    getConnections: GET_CONNECTIONS,
    hashConnections: HASH_CONNECTIONS,
    scrypt: { N: 16384, r: 8, p: 1, keyLength: 32 },
    getTool: tool,
    hashTool: 'autocannon',
    // The server is never pinned; this says whether wrk was (to core 1).
    loadGeneratorPinned: pinned,
    taskThreads: process.env.CLEAVE_TASK_THREADS ?? `${availableParallelism()} (availableParallelism)`,
  },
  results,
  ratios: {
    /** The headline: how much worse the slowest GETs get when hashing shares their event loop. */
    stormP99InlineOverOffloaded: ratio(inline.stormP99Ms, offloaded.stormP99Ms),
    /** True when inline GETs timed out in the storm: its real p99, and so the ratio, are higher still. */
    stormP99RatioIsLowerBound: inline.stormGetErrors > 0,
    stormRpsOffloadedOverInline: ratio(offloaded.stormRps, inline.stormRps),
    hashesPerSecondOffloadedOverInline: ratio(offloaded.hashesPerSecond, inline.hashesPerSecond),
  },
};
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
writeFileSync(`${ROOT}/bench/results/tasks.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.table(results);
console.log(
  `during a login storm, GET /api/posts p99: inline ${inline.stormP99Ms} ms / offloaded ${offloaded.stormP99Ms} ms = ` +
    `${summary.ratios.stormP99InlineOverOffloaded}×` +
    (summary.ratios.stormP99RatioIsLowerBound
      ? ` at least (${inline.stormGetErrors} inline GETs passed wrk's 2 s timeout and are not in the p99)`
      : '') +
    `; idle p99 ${inline.idleP99Ms} / ${offloaded.idleP99Ms} ms; ` +
    `offloaded / inline: storm GET req/s ${summary.ratios.stormRpsOffloadedOverInline}×, ` +
    `hashes/s ${summary.ratios.hashesPerSecondOffloadedOverInline}× (${tool}, ${GET_CONNECTIONS}+${HASH_CONNECTIONS} connections, ${DURATION_S} s, ` +
    `${summary.node}, ${summary.cpu})`,
);
