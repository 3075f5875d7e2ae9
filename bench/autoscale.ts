// Benchmark: the forum split, through one load step. Steady GET /api/posts at a fixed rate
// the whole time; after an idle phase, a storm of POST /api/login (scrypt hashing, a task)
// from 16 clients; then calm again. Every 100 ms it asks the supervisor for its pools
// (`cleave status`), and it reports how fast the first added process served, the errors
// while growing and shrinking, and GET p99 during the storm over its idle p99.
//
//   npm run bench:autoscale   (writes bench/results/autoscale.{csv,svg,json}; ~45 s, loopback only)

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { fetchStatus } from '../src/cli/status.ts';
import type { AppStatus } from '../src/supervisor/status.ts';
import { drawChart } from './load/chart.ts';
import { ROOT, startServer } from './load/server.ts';

const GET_RATE = Number(process.env.BENCH_GET_RATE ?? 200); // per second, open loop
const LOGIN_CLIENTS = Number(process.env.BENCH_LOGIN_CLIENTS ?? 16);
const PHASES = { warm: 3000, idle: 6000, storm: 10_000, calm: 20_000 };
const SCALE_DOWN_AFTER_MS = 5000;
const BUCKET_MS = 500;

interface Sample {
  /** ms since the idle phase began */
  t: number;
  latencyMs: number;
  ok: boolean;
}

const cores = cpus().length;
const runs = [
  await run('default: task workers = cores − 1', 'autoscale', {}),
  // More workers than the default lets the task pool grow on a small machine too: how fast
  // an added process serves, and what CPU-bound work on every core costs the light route.
  await run(`CLEAVE_TASK_WORKERS=${cores + 1}`, 'autoscale-more-workers', { CLEAVE_TASK_WORKERS: String(cores + 1) }),
];
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
writeFileSync(`${ROOT}/bench/results/autoscale.json`, `${JSON.stringify(runs, null, 2)}\n`);

async function run(label: string, name: string, env: Record<string, string>) {
  const server = await startServer('cleave start', [process.execPath, 'bin/cleave.js', 'start', 'examples/forum'], {
    HOST: '127.0.0.1',
    CLEAVE_ACCESS_LOG: 'off',
    // A load test from one address: the forum's per-address limits would answer 429.
    CLEAVE_RATE_LIMIT: 'off',
    // The reads must reach the posts replicas while the storm runs, as they did before the
    // forum's front page was cached: this measures the storm's reach, not the cache.
    CLEAVE_CACHE: 'off',
    CLEAVE_SCALE_DOWN_AFTER_MS: String(SCALE_DOWN_AFTER_MS),
    ...env,
  });
  const origin = `http://127.0.0.1:${server.port}`;
  const pool = new Pool(origin, { connections: 64, pipelining: 1 });
  const credentials = JSON.stringify({ username: 'bench', password: 'correct horse battery staple' });
  const json = { 'content-type': 'application/json' };

  const gets: Sample[] = [];
  const logins: Sample[] = [];
  const statuses: Array<{ t: number; status: AppStatus }> = [];
  let zero = performance.now();
  const since = () => performance.now() - zero;

  async function timed(into: Sample[] | undefined, options: Parameters<Pool['request']>[0]): Promise<void> {
    const started = performance.now();
    let ok = false;
    try {
      const res = await pool.request(options);
      await res.body.dump();
      ok = res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      ok = false;
    }
    into?.push({ t: started - zero, latencyMs: performance.now() - started, ok });
  }

  try {
    await timed(undefined, { path: '/api/signup', method: 'POST', headers: json, body: credentials });
    const initial = await fetchStatus(server.port);

    // Steady GETs from warm-up to the end, at a fixed rate whatever the latency (open loop).
    let recording = false;
    const getTimer = setInterval(() => {
      void timed(recording ? gets : undefined, { path: '/api/posts', method: 'GET' });
    }, 1000 / GET_RATE);
    await sleep(PHASES.warm);

    zero = performance.now();
    recording = true;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const t = since();
        statuses.push({ t, status: await fetchStatus(server.port) });
        await sleep(100);
      }
    })();
    await sleep(PHASES.idle);

    const stormStart = since();
    const stormStartWall = Date.now();
    const stormEnd = stormStart + PHASES.storm;
    await Promise.all(
      Array.from({ length: LOGIN_CLIENTS }, async () => {
        while (since() < stormEnd) {
          await timed(logins, { path: '/api/login', method: 'POST', headers: json, body: credentials });
        }
      }),
    );
    await sleep(PHASES.calm);
    clearInterval(getTimer);
    sampling = false;
    await sampler;
    const end = since();

    // ---- figures ----
    const keys = initial.pools.map(poolKey);
    const readyAt = (status: AppStatus, key: string) =>
      status.pools.find((candidate) => poolKey(candidate) === key)?.replicas.ready ?? 0;
    const initialReady = new Map(keys.map((key) => [key, readyAt(initial, key)]));
    const firstAdded = statuses.find(
      ({ t, status }) => t >= stormStart && keys.some((key) => readyAt(status, key) > (initialReady.get(key) ?? 0)),
    );
    const last = statuses.at(-1)?.status ?? initial;
    const decisions = last.decisions.filter((decision) => Date.parse(decision.at) >= Date.now() - end - 1000);
    const idleGets = gets.filter((sample) => sample.t < stormStart);
    const stormGets = gets.filter((sample) => sample.t >= stormStart && sample.t < stormEnd);
    const calmGets = gets.filter((sample) => sample.t >= stormEnd);
    const errors = {
      idle: idleGets.filter((sample) => !sample.ok).length,
      storm: [...stormGets, ...logins].filter((sample) => !sample.ok).length,
      calm: calmGets.filter((sample) => !sample.ok).length,
    };
    const idleP99 = percentile(
      idleGets.map((sample) => sample.latencyMs),
      99,
    );
    const stormP99 = percentile(
      stormGets.map((sample) => sample.latencyMs),
      99,
    );
    const summary = {
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
      load: {
        getRatePerSecond: GET_RATE,
        loginClients: LOGIN_CLIENTS,
        phasesMs: PHASES,
        scaleDownAfterMs: SCALE_DOWN_AFTER_MS,
      },
      stepToFirstDecisionMs: (() => {
        const first = decisions.find(
          (decision) => decision.to > decision.from && Date.parse(decision.at) >= stormStartWall,
        );
        return first ? Date.parse(first.at) - stormStartWall : null;
      })(),
      stepToFirstAddedReadyMs: firstAdded ? Math.round(firstAdded.t - stormStart) : null,
      firstAddedPool: firstAdded
        ? keys.find((key) => readyAt(firstAdded.status, key) > (initialReady.get(key) ?? 0))
        : null,
      errors,
      requests: { gets: gets.length, logins: logins.length },
      loginsPerSecond: Number((logins.length / (PHASES.storm / 1000)).toFixed(1)),
      getP99Ms: {
        idle: round(idleP99),
        storm: round(stormP99),
        calm: round(
          percentile(
            calmGets.map((s) => s.latencyMs),
            99,
          ),
        ),
      },
      stormOverIdleP99: round(stormP99 / idleP99),
      replicas: {
        before: Object.fromEntries(initialReady),
        peak: Object.fromEntries(
          keys.map((key) => [key, Math.max(...statuses.map(({ status }) => readyAt(status, key)))]),
        ),
        after: Object.fromEntries(keys.map((key) => [key, readyAt(last, key)])),
      },
      decisions: decisions.map(({ at, service, from, to, reason }) => ({ at, service, from, to, reason })),
    };

    // ---- CSV and chart ----
    const rows: string[] = [
      ['t_s', 'phase', 'get_rps', 'get_p99_ms', 'login_rps', 'errors', ...keys.map((key) => `ready_${key}`)].join(','),
    ];
    const series: Array<{ t: number; p99: number; ready: number[] }> = [];
    for (let start = 0; start < end; start += BUCKET_MS) {
      const inBucket = (sample: Sample) => sample.t >= start && sample.t < start + BUCKET_MS;
      const bucketGets = gets.filter(inBucket);
      const bucketLogins = logins.filter(inBucket);
      const status = [...statuses].reverse().find((entry) => entry.t <= start)?.status ?? initial;
      const p99 = percentile(
        bucketGets.map((sample) => sample.latencyMs),
        99,
      );
      const ready = keys.map((key) => readyAt(status, key));
      series.push({ t: start / 1000, p99, ready });
      const phase = start < stormStart ? 'idle' : start < stormEnd ? 'storm' : 'calm';
      const perSecond = (count: number) => (count * 1000) / BUCKET_MS;
      const bucketErrors = [...bucketGets, ...bucketLogins].filter((sample) => !sample.ok).length;
      rows.push(
        [
          (start / 1000).toFixed(1),
          phase,
          perSecond(bucketGets.length),
          round(p99),
          perSecond(bucketLogins.length),
          bucketErrors,
          ...ready,
        ].join(','),
      );
    }
    mkdirSync(`${ROOT}/bench/results`, { recursive: true });
    writeFileSync(`${ROOT}/bench/results/${name}.csv`, `${rows.join('\n')}\n`);
    writeFileSync(
      `${ROOT}/bench/results/${name}.svg`,
      drawChart({
        title: `${label}: login storm (${LOGIN_CLIENTS} clients) in the shaded ${PHASES.storm / 1000} s; GET /api/posts at ${GET_RATE}/s`,
        shade: [stormStart / 1000, stormEnd / 1000],
        top: {
          label: 'ready processes per pool',
          integer: true,
          lines: keys.map((key, index) => ({
            name: key,
            points: series.map((point) => [point.t, point.ready[index] ?? 0]),
          })),
        },
        bottom: {
          label: 'GET /api/posts p99 (ms)',
          lines: [{ name: 'p99', points: series.map((point) => [point.t, point.p99]) }],
        },
      }),
    );
    console.log(
      `${label}: first scale-up decided ${summary.stepToFirstDecisionMs ?? '-'} ms and its process ready ` +
        `${summary.stepToFirstAddedReadyMs ?? '-'} ms after the step ` +
        `(${summary.firstAddedPool ?? 'none added'}); errors idle/storm/calm ${errors.idle}/${errors.storm}/${errors.calm}; ` +
        `GET p99 storm / idle ${summary.getP99Ms.storm} / ${summary.getP99Ms.idle} ms = ${summary.stormOverIdleP99}×; ` +
        `${summary.loginsPerSecond} logins/s; chart bench/results/${name}.svg`,
    );
    return { label, chart: `bench/results/${name}.svg`, ...summary };
  } finally {
    await pool.close();
    await server.stop();
  }
}

function poolKey(pool: { service: string; kind: string }): string {
  return pool.kind === 'tasks' ? `${pool.service}/tasks` : pool.service;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function round(value: number): number {
  return Number(value.toFixed(2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
