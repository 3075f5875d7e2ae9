// Benchmark: the split-mode gateway against nginx as a keep-alive reverse
// proxy over the very same two replica processes, and against the service
// with no hop at all (the same app under `cleave dev`), in one run.
//
//   npm run bench:gateway     (writes bench/results/gateway.json; needs nginx: apt-get install nginx)

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLoad, type LoadResult } from './load/generate.ts';
import { ROOT, startServer } from './load/server.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const NGINX = '/usr/sbin/nginx';
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

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** nginx in the foreground, one worker (the gateway is one process too), upstream keep-alive. */
async function startNginx(sockets: string[]): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-nginx-'));
  const port = await freePort();
  // The replicas' sockets sit in the supervisor's private (0700) folder: as root, nginx's
  // worker must stay root to reach them, as the gateway does.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const config = `
${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream api {
    least_conn;
${sockets.map((socket) => `    server unix:${socket};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let tries = 0; tries < 100; tries++) {
    if (existsSync(join(dir, 'nginx.pid'))) return { port, child, dir };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('nginx did not start');
}

if (!existsSync(NGINX)) {
  console.error(`bench/gateway.ts needs nginx at ${NGINX} (apt-get install nginx)`);
  process.exit(1);
}

const results: Result[] = [];
const split = await startServer('cleave start', [process.execPath, 'bin/cleave.js', 'start', APP], QUIET);
try {
  // Replicas batch their log lines (up to 100 ms), so theirs may follow the gateway's.
  const readyLines = () => split.startupLog.filter((line) => line.includes('replica ready'));
  for (let tries = 0; tries < 50 && readyLines().length < 2; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const sockets = readyLines().map((line) => (JSON.parse(line) as { socket: string }).socket);
  if (sockets.length !== 2) throw new Error(`expected 2 replica sockets, found ${sockets.length}`);
  results.push(await measure('cleave gateway → 2 replicas', split.port));
  const nginx = await startNginx(sockets);
  try {
    results.push(await measure('nginx → the same 2 replicas', nginx.port));
  } finally {
    nginx.child.kill('SIGQUIT');
    await once(nginx.child, 'exit');
    await rm(nginx.dir, { recursive: true, force: true });
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
const failed = results.filter((result) => result.errors > 0);
if (failed.length > 0) {
  // A run that answered errors measured something else; say so instead of printing ratios.
  console.table(results);
  console.error(`errors in: ${failed.map((result) => result.name).join(', ')}; no ratios written`);
  process.exit(1);
}
const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
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
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
writeFileSync(`${ROOT}/bench/results/gateway.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.table(results);
console.log(
  `gateway / nginx: throughput ${summary.ratios.gatewayOverNginx}×, p99 ${summary.ratios.p99GatewayOverNginx}×; ` +
    `gateway / direct ${summary.ratios.gatewayOverDirect}×; nginx / direct ${summary.ratios.nginxOverDirect}× ` +
    `(${gateway.tool}, ${CONNECTIONS} connections, ${DURATION_S} s, ${summary.node}, ${summary.cpu})`,
);
