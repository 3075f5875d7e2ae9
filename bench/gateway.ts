// Benchmark: the split-mode gateway against nginx as a keep-alive reverse
// proxy over the very same two replica processes, and against the service
// with no hop at all (the same app under `cleave dev`), in one run.
//
//   npm run bench:gateway     (writes bench/results/gateway.json; needs nginx: apt-get install nginx)

import { generateLoad, type LoadResult } from './load/generate.ts';
import { requireNginx, startNginx } from './load/nginx.ts';
import { machine, ratio, refuseErrors, writeResults } from './load/report.ts';
import { replicaSockets, startServer } from './load/server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const APP = 'bench/fixtures/split-app';
// No access logs anywhere: nginx's is off below, so cleave's is too.
const QUIET = { HOST: '127.0.0.1', CLEAVE_ACCESS_LOG: 'off', CLEAVE_TASK_THREADS: '1' };

interface Result extends LoadResult {
  name: string;
}

async function measure(name: string, port: number): Promise<Result> {
  const url = `http://127.0.0.1:${port}/api/posts`;
  await generateLoad(url, { connections: CONNECTIONS, durationSeconds: 2 }); // warm-up
  return { name, ...(await generateLoad(url, { connections: CONNECTIONS, durationSeconds: DURATION_S })) };
}

requireNginx('bench/gateway.ts');

const results: Result[] = [];
const split = await startServer('cleave start', [process.execPath, 'bin/cleave.js', 'start', APP], QUIET);
try {
  const sockets = await replicaSockets(split, 2);
  results.push(await measure('cleave gateway → 2 replicas', split.port));
  const nginx = await startNginx(sockets);
  try {
    results.push(await measure('nginx → the same 2 replicas', nginx.port));
  } finally {
    await nginx.stop();
  }
} finally {
  await split.stop();
}
const direct = await startServer('cleave dev', [process.execPath, 'bin/cleave.js', 'dev', APP], QUIET);
try {
  results.push(await measure('direct: the service, no hop (cleave dev)', direct.port));
} finally {
  await direct.stop();
}

const [gateway, nginx, none] = results as [Result, Result, Result];
refuseErrors(results);
const summary = {
  ...machine(),
  connections: CONNECTIONS,
  durationSeconds: DURATION_S,
  results,
  ratios: {
    gatewayOverNginx: ratio(gateway.requestsPerSecond, nginx.requestsPerSecond),
    gatewayOverDirect: ratio(gateway.requestsPerSecond, none.requestsPerSecond),
    nginxOverDirect: ratio(nginx.requestsPerSecond, none.requestsPerSecond),
    p99GatewayOverNginx: ratio(gateway.p99Ms, nginx.p99Ms),
  },
};
writeResults('gateway', summary);
console.table(results);
console.log(
  `gateway / nginx: throughput ${summary.ratios.gatewayOverNginx}×, p99 ${summary.ratios.p99GatewayOverNginx}×; ` +
    `gateway / direct ${summary.ratios.gatewayOverDirect}×; nginx / direct ${summary.ratios.nginxOverDirect}× ` +
    `(${gateway.tool}, ${CONNECTIONS} connections, ${DURATION_S} s, ${summary.node}, ${summary.cpu})`,
);
