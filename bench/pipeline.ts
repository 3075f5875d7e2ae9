// Benchmark: the cost of cleave's request pipeline (normalise, route, auth
// check, handler, JSON, access log) over a bare node:http server answering the
// same JSON, both as child processes on loopback, in one run.
//
//   npm run bench:pipeline            (writes bench/results/pipeline.json)

import { generateLoad, type LoadResult } from './load/generate.ts';
import { onCore, pinned } from './load/pinning.ts';
import { machine, ratio, writeResults } from './load/report.ts';
import { startServer } from './load/server.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** The server gets core 0; the load generator core 1 (see load/pinning.ts). */
const SERVER_CORE = 0;

interface Target {
  name: string;
  command: string[];
  env?: Record<string, string>;
}

// Where the traced run sends its spans: a collector that takes them and does nothing else, so
// the figure is what tracing costs cleave, not what a real collector costs the machine.
let spansReceived = 0;
const collector = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => (spansReceived += chunk.length));
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

const targets: Target[] = [
  { name: 'node:http (bare)', command: ['--import', 'tsx', 'bench/fixtures/bare-server.ts'] },
  {
    name: 'cleave dev',
    command: ['bin/cleave.js', 'dev', 'bench/fixtures/app'],
    // Access logs on: they are part of what a user runs.
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'info' },
  },
  {
    name: 'cleave dev, no access log',
    command: ['bin/cleave.js', 'dev', 'bench/fixtures/app'],
    env: { HOST: '127.0.0.1', CLEAVE_ACCESS_LOG: 'off' },
  },
  {
    name: 'cleave dev, traced (OTLP)',
    command: ['bin/cleave.js', 'dev', 'bench/fixtures/app'],
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl },
  },
];

interface Result extends LoadResult {
  name: string;
}

async function measure(target: Target): Promise<Result> {
  const server = await startServer(target.name, onCore(SERVER_CORE, [process.execPath, ...target.command]), target.env);
  try {
    const url = `http://127.0.0.1:${server.port}/api/posts`;
    await generateLoad(url, { connections: CONNECTIONS, durationSeconds: 2 }); // warm-up: JIT, pools
    return {
      name: target.name,
      ...(await generateLoad(url, { connections: CONNECTIONS, durationSeconds: DURATION_S })),
    };
  } finally {
    await server.stop();
  }
}

const results: Result[] = [];
for (const target of targets) results.push(await measure(target));
collector.close();
const [bare, cleave, quiet, traced] = results as [Result, Result, Result, Result];
const summary = {
  ...machine(),
  connections: CONNECTIONS,
  durationSeconds: DURATION_S,
  pinnedToCores: pinned,
  results,
  ratios: {
    throughput: ratio(cleave.requestsPerSecond, bare.requestsPerSecond),
    p99: ratio(cleave.p99Ms, bare.p99Ms),
    throughputWithoutAccessLog: ratio(quiet.requestsPerSecond, bare.requestsPerSecond),
    /** Every request a span, exported over OTLP, against the same app untraced. */
    tracedOverUntraced: ratio(traced.requestsPerSecond, cleave.requestsPerSecond),
  },
  otlpBytesReceived: spansReceived,
};
writeResults('pipeline', summary);
console.table(results);
console.log(
  `cleave / bare node:http: throughput ${summary.ratios.throughput}× ` +
    `(${summary.ratios.throughputWithoutAccessLog}× without access log), p99 ${summary.ratios.p99}×; ` +
    `traced / untraced ${summary.ratios.tracedOverUntraced}× ` +
    `(${bare.tool}, ${CONNECTIONS} connections, ${DURATION_S} s, ${summary.node}, ${summary.cpu})`,
);
