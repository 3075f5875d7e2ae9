// Benchmark: one balancer pick — candidates() and the first available replica, as the gateway
// does per request — for each strategy over pools of 2, 8 and 64 busy replicas, against the
// obvious one-liners measured in the same run, plus the alternatives the design turned down
// (a generator for the candidate order; power-of-two-choices instead of an exact scan).
// Bytes per pick are counted exactly with v8.GCProfiler (heap used before each GC, plus what
// is left at the end). Each pick's cursor is kept alive, as the gateway keeps it across its
// upstream call: otherwise escape analysis would remove it here, which it can't do there.
//
//   node --import tsx bench/balancer.ts   (writes bench/results/balancer.json; BENCH_DURATION=0.5 s per case)

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { LeastInFlight } from '../src/balancer/least-in-flight.ts';
import { RoundRobin } from '../src/balancer/round-robin.ts';
import { Replica } from '../src/upstream/replica.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION_S = Number(process.env.BENCH_DURATION ?? 0.5);
const WARMUP_S = DURATION_S / 2;
const SIZES = [2, 8, 64];
const CHUNK = 10_000;
const ALLOCATION_PICKS = 50_000;

type Strategy = 'round-robin' | 'least-in-flight';

interface Variant {
  strategy: Strategy;
  name: string;
  /** A loop of `picks` picks over one pool. Each variant writes its own, so no call site is
   * shared between variants and none turns megamorphic for the ones measured later. */
  loop(pool: readonly Replica[]): (picks: number) => void;
}

// Sinks keep results alive, so no pick is dead code.
let picked: Replica | undefined;
let kept: unknown;

function* roundRobinGenerator(rotation: { next: number }, replicas: readonly Replica[]): Generator<Replica> {
  const count = replicas.length;
  const start = count === 0 ? 0 : rotation.next % count;
  for (let taken = 0; taken < count; taken++) {
    const index = (start + taken) % count;
    rotation.next = index + 1;
    yield replicas[index]!;
  }
}

const variants: Variant[] = [
  {
    strategy: 'round-robin',
    name: 'RoundRobin',
    loop: (pool) => {
      const balancer = new RoundRobin();
      return (picks) => {
        for (let i = 0; i < picks; i++) {
          const candidates = balancer.candidates(pool);
          kept = candidates;
          let replica = candidates.next();
          while (replica !== undefined && !replica.available()) replica = candidates.next();
          picked = replica;
        }
      };
    },
  },
  {
    strategy: 'round-robin',
    name: 'generator (same order)',
    loop: (pool) => {
      const rotation = { next: 0 };
      return (picks) => {
        for (let i = 0; i < picks; i++) {
          const candidates = roundRobinGenerator(rotation, pool);
          kept = candidates;
          for (const replica of candidates) {
            if (!replica.available()) continue;
            picked = replica;
            break;
          }
        }
      };
    },
  },
  {
    strategy: 'round-robin',
    name: 'naive filter()[i++ % n]',
    loop: (pool) => {
      let next = 0;
      return (picks) => {
        for (let i = 0; i < picks; i++) {
          const available = pool.filter((replica) => replica.available());
          picked = available[next++ % available.length];
        }
      };
    },
  },
  {
    strategy: 'least-in-flight',
    name: 'LeastInFlight',
    loop: (pool) => {
      const balancer = new LeastInFlight();
      return (picks) => {
        for (let i = 0; i < picks; i++) {
          const candidates = balancer.candidates(pool);
          kept = candidates;
          let replica = candidates.next();
          while (replica !== undefined && !replica.available()) replica = candidates.next();
          picked = replica;
        }
      };
    },
  },
  {
    strategy: 'least-in-flight',
    name: 'naive filter().sort()[0]',
    loop: (pool) => (picks) => {
      for (let i = 0; i < picks; i++) {
        picked = pool.filter((replica) => replica.available()).sort((a, b) => a.inFlight - b.inFlight)[0];
      }
    },
  },
  {
    strategy: 'least-in-flight',
    name: 'P2C (first choice only)',
    loop: (pool) => (picks) => {
      const count = pool.length;
      for (let i = 0; i < picks; i++) {
        const first = Math.floor(Math.random() * count);
        let second = Math.floor(Math.random() * (count - 1));
        if (second >= first) second += 1; // two distinct replicas
        const a = pool[first]!;
        const b = pool[second]!;
        picked = !b.available() || (a.available() && a.inFlight <= b.inFlight) ? a : b;
      }
    },
  },
];

/** A busy pool: every replica serves 1–5 requests, so least-in-flight scans it all. */
function busyPool(size: number): Replica[] {
  return Array.from({ length: size }, (_, i) => {
    const replica = new Replica(`r${i}`, { socketPath: `/tmp/r${i}.sock` });
    for (let n = 0; n <= (i * 7) % 5; n++) replica.begin();
    return replica;
  });
}

function bytesPerPick(run: (picks: number) => void): number {
  const profiler = new v8.GCProfiler();
  profiler.start();
  let since = process.memoryUsage().heapUsed;
  run(ALLOCATION_PICKS);
  const end = process.memoryUsage().heapUsed;
  let allocated = 0;
  // Between two collections the heap only grows by what was allocated.
  for (const gc of profiler.stop().statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - since;
    since = gc.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += end - since;
  return Math.max(0, Math.round(allocated / ALLOCATION_PICKS));
}

function picksPerSecond(run: (picks: number) => void, seconds: number): number {
  let picks = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    run(CHUNK);
    picks += CHUNK;
  }
  return picks / ((performance.now() - start) / 1000);
}

interface Row {
  strategy: Strategy;
  implementation: string;
  replicas: number;
  picksPerSecond: number;
  nsPerPick: number;
  bytesPerPick: number;
}

const results: Row[] = [];
for (const size of SIZES) {
  const pool = busyPool(size);
  for (const variant of variants) {
    const run = variant.loop(pool);
    picksPerSecond(run, WARMUP_S);
    const rate = picksPerSecond(run, DURATION_S);
    results.push({
      strategy: variant.strategy,
      implementation: variant.name,
      replicas: size,
      picksPerSecond: Math.round(rate),
      nsPerPick: Number((1e9 / rate).toFixed(1)),
      bytesPerPick: bytesPerPick(run),
    });
  }
}
if (picked === undefined || kept === undefined) throw new Error('the benchmark picked nothing');

/** [cleave's, the peer's] implementation names: ratio > 1 means cleave's picks faster. */
const comparisons = [
  ['RoundRobin', 'naive filter()[i++ % n]'],
  ['RoundRobin', 'generator (same order)'],
  ['LeastInFlight', 'naive filter().sort()[0]'],
  ['LeastInFlight', 'P2C (first choice only)'],
] as const;
const rateOf = (implementation: string, size: number) =>
  results.find((row) => row.implementation === implementation && row.replicas === size)!.picksPerSecond;
const ratios = SIZES.flatMap((size) =>
  comparisons.map(([ours, peer]) => ({
    replicas: size,
    comparison: `${ours} / ${peer}`,
    ratio: Number((rateOf(ours, size) / rateOf(peer, size)).toFixed(2)),
  })),
);

const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  durationSecondsPerCase: DURATION_S,
  pool: 'every replica available, 1–5 requests in flight each',
  results,
  ratios,
};
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
writeFileSync(`${ROOT}/bench/results/balancer.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.table(results);
console.table(ratios);
console.log(`picks per second, ratio > 1 means cleave is faster (${summary.node}, ${summary.cpu})`);
