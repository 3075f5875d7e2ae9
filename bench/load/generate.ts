// One load generator for every benchmark: wrk when installed (C, cheap enough
// that the 2-core machine measures the server, not the client), else
// autocannon (pure Node, always there, but it can saturate a core itself).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { onCore } from './pinning.ts';

const run = promisify(execFile);

export interface LoadResult {
  tool: 'wrk' | 'autocannon';
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
}

export async function generateLoad(url: string, options: LoadOptions): Promise<LoadResult> {
  if (existsSync('/usr/bin/wrk') && process.env.BENCH_TOOL !== 'autocannon') return wrk(url, options);
  const result = await autocannon({ url, connections: options.connections, duration: options.durationSeconds });
  return {
    tool: 'autocannon',
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

async function wrk(url: string, options: LoadOptions): Promise<LoadResult> {
  const [command, ...args] = onCore(1, [
    '/usr/bin/wrk',
    '-t1',
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--latency',
    url,
  ]);
  const { stdout } = await run(command, args);
  const number = (pattern: RegExp) => Number(pattern.exec(stdout)?.[1] ?? Number.NaN);
  const millis = (label: string) => {
    const match = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(stdout);
    if (!match) return Number.NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = number(/Non-2xx or 3xx responses: (\d+)/);
  return {
    tool: 'wrk',
    requestsPerSecond: Math.round(number(/Requests\/sec:\s+([\d.]+)/)),
    p50Ms: millis('50'),
    p99Ms: millis('99'),
    errors:
      (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
      (Number.isNaN(non2xx) ? 0 : non2xx),
  };
}
