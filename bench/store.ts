// Benchmark: durable writes through FileStore, whose group commit lets concurrent puts share
// one write + fdatasync, against the obvious way to give the same guarantee — append one JSON
// line and fdatasync per put, serialised by a promise chain — with MemoryStore as the
// no-durability ceiling. Every run is read back: a benchmark that loses writes is meaningless.
//
//   node --import tsx bench/store.ts   (writes bench/results/store.json; BENCH_DURATION=3 s)

import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { FileStore } from '../src/store/file.ts';
import { MemoryStore } from '../src/store/memory.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import pg from 'pg';
import type { StoreBackend } from '../src/store/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION_S = Number(process.env.BENCH_DURATION ?? 3);
/** Untimed puts before each measurement, so the first backend does not pay for the JIT alone. */
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 0.5);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,128').split(',').map(Number);
const COLLECTION = 'bench';

/** ~200 bytes of JSON; the key inside makes every record distinct and checkable on read-back. */
function valueFor(key: string) {
  return {
    id: key,
    title: 'a benchmark record',
    body: 'lorem ipsum dolor sit amet, consectetur adipiscing',
    author: { id: 'user-1', username: 'user1' },
    createdAt: '2026-01-01T00:00:00.000Z',
    tags: ['bench'],
  };
}
const VALUE_BYTES = Buffer.byteLength(JSON.stringify(valueFor('w0-0')));

/** What a run needs from a backend: durable puts, then everything readable again after close. */
interface Session {
  put(key: string, value: unknown): Promise<unknown>;
  close(): Promise<void>;
  /** Called after close; reads from the medium (disk) wherever there is one. */
  readBack(sampleKeys: string[]): Promise<ReadBack>;
}

interface ReadBack {
  /** Records found. */
  count: number;
  /** The stored value of each sample key that was found. */
  samples: Map<string, unknown>;
}

interface Backend {
  name: string;
  open(dir: string): Promise<Session>;
}

const fileStore: Backend = {
  name: 'FileStore (group commit)',
  async open(dir) {
    const store = new FileStore({ dir });
    await store.start();
    return {
      put: (key, value) => store.put(COLLECTION, key, value),
      close: () => store.stop(),
      // A second FileStore on the same directory: what a restarted process would recover.
      async readBack(sampleKeys) {
        const warnings: string[] = [];
        const reopened = new FileStore({ dir, log: { warn: (_obj, msg) => warnings.push(msg) } });
        await reopened.start();
        try {
          if (warnings.length > 0) throw new Error(`FileStore recovery warned: ${warnings.join('; ')}`);
          return { count: (await reopened.list(COLLECTION)).length, samples: await sample(reopened, sampleKeys) };
        } finally {
          await reopened.stop();
        }
      },
    };
  },
};

/**
 * The peer: a minimal correct durable append, written the obvious way. Each put waits for
 * the previous one, then appends its line and fdatasyncs — one write and one sync per put.
 */
const naiveAppend: Backend = {
  name: 'naive durable append',
  async open(dir) {
    const path = join(dir, 'log.jsonl');
    const handle: FileHandle = await open(path, 'a');
    // The new file's directory entry must be durable too, as FileStore makes its own.
    const dirHandle = await open(dir, 'r');
    await dirHandle.sync();
    await dirHandle.close();
    let tail: Promise<unknown> = Promise.resolve();
    return {
      put(key, value) {
        const line = `${JSON.stringify({ key, value })}\n`;
        const written = tail.then(async () => {
          await handle.appendFile(line);
          await handle.datasync();
        });
        // A failed put must not stop the ones queued behind it; its caller sees the error.
        tail = written.catch(() => {});
        return written;
      },
      async close() {
        await tail;
        await handle.close();
      },
      async readBack(sampleKeys) {
        const values = new Map<string, unknown>();
        const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '');
        for (const line of lines) {
          const { key, value } = JSON.parse(line) as { key: string; value: unknown };
          values.set(key, value);
        }
        if (values.size !== lines.length) throw new Error(`naive log repeats keys: ${lines.length} lines`);
        const samples = new Map(sampleKeys.filter((key) => values.has(key)).map((key) => [key, values.get(key)]));
        return { count: lines.length, samples };
      },
    };
  },
};

const memoryStore: Backend = {
  name: 'MemoryStore (no durability)',
  async open() {
    const store = new MemoryStore();
    await store.start();
    return {
      put: (key, value) => store.put(COLLECTION, key, value),
      close: () => store.stop(),
      // Nothing outlives the process; read the same instance, which stop() leaves intact.
      async readBack(sampleKeys) {
        return { count: (await store.list(COLLECTION)).length, samples: await sample(store, sampleKeys) };
      },
    };
  },
};

/**
 * PostgreSQL on this machine (BENCH_POSTGRES_URL), each run in schemas of its own, dropped
 * after the read-back: what a store shared by every node costs next to the file store.
 */
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let postgresRuns = 0;
const postgresStore: Backend = {
  name: 'PostgresStore (shared)',
  async open() {
    const schemaPrefix = `bench_${process.pid}_${++postgresRuns}_`;
    // One process's default pool: what each replica of a node holds.
    const store = new PostgresStore({ url: POSTGRES_URL, schemaPrefix });
    await store.start();
    return {
      put: (key, value) => store.put(COLLECTION, key, value),
      close: () => store.stop(),
      // A second store, as another process or node would read.
      async readBack(sampleKeys) {
        const reader = new PostgresStore({ url: POSTGRES_URL, schemaPrefix });
        await reader.start();
        try {
          return { count: (await reader.list(COLLECTION)).length, samples: await sample(reader, sampleKeys) };
        } finally {
          await reader.stop();
          const client = new pg.Client({ connectionString: POSTGRES_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS "${schemaPrefix}cleave" CASCADE`);
          await client.end();
        }
      },
    };
  },
};

const backends = [fileStore, naiveAppend, postgresStore, memoryStore];

async function sample(store: StoreBackend, keys: string[]): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  for (const key of keys) {
    const record = await store.get(COLLECTION, key);
    if (record !== undefined) found.set(key, record.value);
  }
  return found;
}

/** Latencies in a growable Float64Array: millions of puts/s on MemoryStore stay cheap to keep. */
class Latencies {
  private samples = new Float64Array(1 << 16);
  length = 0;

  add(ms: number): void {
    if (this.length === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.length++] = ms;
  }

  percentiles(...ps: number[]): number[] {
    const sorted = this.samples.slice(0, this.length).sort();
    return ps.map((p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN);
  }
}

interface Phase {
  /** Puts acknowledged, in all workers. */
  acknowledged: number;
  /** Per worker, the keys of its first and last acknowledged put. */
  sampleKeys: string[];
  elapsedMs: number;
}

/** `concurrency` writers, each issuing its next put when the last resolves, until the deadline. */
interface PhaseOptions {
  concurrency: number;
  seconds: number;
  /** Keeps warm-up keys apart from measured ones. */
  keyPrefix: string;
  /** Where to record each put's latency; warm-up records none. */
  latencies?: Latencies;
}

async function runPhase(session: Session, options: PhaseOptions): Promise<Phase> {
  const { concurrency, seconds, keyPrefix, latencies } = options;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const perWorker = await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      let n = 0;
      while (performance.now() < deadline) {
        const key = `${keyPrefix}w${worker}-${n}`;
        const value = valueFor(key);
        const before = performance.now();
        await session.put(key, value);
        latencies?.add(performance.now() - before);
        n++;
      }
      return n;
    }),
  );
  return {
    acknowledged: perWorker.reduce((sum, n) => sum + n, 0),
    sampleKeys: perWorker.flatMap((n, worker) =>
      n === 0 ? [] : [`${keyPrefix}w${worker}-0`, `${keyPrefix}w${worker}-${n - 1}`],
    ),
    elapsedMs: performance.now() - started,
  };
}

interface Result {
  backend: string;
  concurrency: number;
  putsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Measured puts plus warm-up puts: everything that must be read back. */
  acknowledged: number;
  readBack: number;
}

async function measure(backend: Backend, concurrency: number): Promise<Result> {
  const dir = await mkdtemp(join(tmpdir(), 'cleave-bench-store-'));
  try {
    const session = await backend.open(dir);
    let warmup: Phase;
    let measured: Phase;
    const latencies = new Latencies();
    try {
      warmup = await runPhase(session, { concurrency, seconds: WARMUP_S, keyPrefix: 'warm-' });
      measured = await runPhase(session, { concurrency, seconds: DURATION_S, keyPrefix: '', latencies });
    } finally {
      await session.close();
    }
    const acknowledged = warmup.acknowledged + measured.acknowledged;
    const stored = await session.readBack(measured.sampleKeys);
    if (stored.count !== acknowledged) {
      throw new Error(`${backend.name} ×${concurrency}: ${acknowledged} puts acknowledged, ${stored.count} read back`);
    }
    for (const key of measured.sampleKeys) {
      if (!isDeepStrictEqual(stored.samples.get(key), valueFor(key))) {
        throw new Error(`${backend.name} ×${concurrency}: ${key} did not read back as written`);
      }
    }
    const [p50, p99] = latencies.percentiles(0.5, 0.99) as [number, number];
    return {
      backend: backend.name,
      concurrency,
      putsPerSecond: Math.round(measured.acknowledged / (measured.elapsedMs / 1000)),
      p50Ms: Number(p50.toFixed(3)),
      p99Ms: Number(p99.toFixed(3)),
      acknowledged,
      readBack: stored.count,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The mount holding the temp dir, from /proc/mounts: fdatasync costs nothing on tmpfs. */
function diskOf(path: string) {
  const real = realpathSync(path);
  let best = { mountPoint: '', device: 'unknown', fsType: 'unknown', options: '' };
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, rawMountPoint, fsType, options] = line.split(' ');
      if (device === undefined || rawMountPoint === undefined || fsType === undefined) continue;
      // /proc/mounts escapes spaces and the like as octal: \040.
      const mountPoint = rawMountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) =>
        String.fromCharCode(parseInt(octal, 8)),
      );
      const contains = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`);
      // Longest match wins; on a tie the later line, mounted over the earlier one.
      if (contains && mountPoint.length >= best.mountPoint.length) {
        best = { mountPoint, device, fsType, options: options ?? '' };
      }
    }
  } catch {
    // Not Linux: the disk stays unknown rather than failing the run.
  }
  const volatile = ['tmpfs', 'ramfs'].includes(best.fsType);
  return {
    tmpdir: real,
    ...best,
    note: volatile ? 'memory-backed: fdatasync is free, durable figures are not meaningful' : 'disk-backed',
  };
}

const results: Result[] = [];
for (const concurrency of CONCURRENCY) {
  for (const backend of backends) results.push(await measure(backend, concurrency));
}

const find = (backend: Backend, concurrency: number) =>
  results.find((r) => r.backend === backend.name && r.concurrency === concurrency)!;
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
const ratios = CONCURRENCY.map((concurrency) => {
  const file = find(fileStore, concurrency);
  const naive = find(naiveAppend, concurrency);
  const postgres = find(postgresStore, concurrency);
  return {
    concurrency,
    throughput: ratio(file.putsPerSecond, naive.putsPerSecond),
    /** PostgresStore / FileStore puts per second: the price of a store every node shares. */
    postgresVsFile: ratio(postgres.putsPerSecond, file.putsPerSecond),
    p50: ratio(file.p50Ms, naive.p50Ms),
    p99: ratio(file.p99Ms, naive.p99Ms),
  };
});
const summary = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  disk: diskOf(tmpdir()),
  durationSeconds: DURATION_S,
  warmupSeconds: WARMUP_S,
  valueBytes: VALUE_BYTES,
  results,
  /** FileStore / naive durable append, and PostgresStore / FileStore, per concurrency. */
  ratios,
};
mkdirSync(`${ROOT}/bench/results`, { recursive: true });
writeFileSync(`${ROOT}/bench/results/store.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.table(results);
console.log(
  `FileStore / naive durable append: ` +
    ratios.map((r) => `×${r.concurrency} writers ${r.throughput}× puts/s, p99 ${r.p99}×`).join('; ') +
    `; PostgresStore / FileStore: ` +
    ratios.map((r) => `×${r.concurrency} ${r.postgresVsFile}× puts/s`).join(', ') +
    ` (${VALUE_BYTES} B values, ${DURATION_S} s each, ${summary.disk.fsType} on ${summary.disk.device}` +
    `${summary.disk.note === 'disk-backed' ? '' : ` — ${summary.disk.note}`}, ${summary.node}, ${summary.cpu})`,
);
