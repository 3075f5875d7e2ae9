// Benchmark: what crosses nodes when they share a NATS (this machine's, 127.0.0.1:4222, or
// CLEAVE_BENCH_NATS_URL). Two rows per measure, each against a named peer in the same run:
//   - a call to a service that runs only on the other node: cleave's ctx.call over NATS
//     request/reply (`front` on one node process, `users` on another: bench/fixtures/
//     cluster-node.ts) against Moleculer 0.14 between two nodes over the same NATS server,
//     at 1 and 32 calls in flight;
//   - an event's round trip between those nodes (front emits bench.ping, users' listener
//     answers bench.pong: service.on, a queue group per service) against Moleculer's
//     balanced events over the same NATS;
//   - a task run by `cleave start` (one task worker): through the supervisor's own queue,
//     and through NATS JetStream, which is what lets the workers of every node share it;
//   - two nodes vs one: CPU-heavy requests (GET /hash, a password hash run as a task) sent to
//     one `cleave start` pinned to core 0, then spread over it and a second one pinned to
//     core 1, as a load balancer would: a node per core stands for a machine per node. Both
//     share this NATS, so a task queued through one node may run on the other's worker.
// Store operations per second on PostgreSQL, file and memory are bench:store's.
//
//   npm run bench:cluster     (writes bench/results/cluster.json)

import { moleculerCalls } from './load/moleculer.ts';
import { type CallFigures, loop, measureCalls, warmUp } from './load/measure-calls.ts';
import { onCore, pinned } from './load/pinning.ts';
import { machine, ratio, writeResults } from './load/report.ts';
import { startServer, type ServerUnderTest } from './load/server.ts';

const NATS_URL = process.env.CLEAVE_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const CONCURRENCY = [1, 32];
const CALLS = 20_000;
const TASKS = 3000;
const TASK_CONCURRENCY = [1, 8];
const HASHES = 600;
const HASH_CONCURRENCY = 8;
const QUIET = { HOST: '127.0.0.1', CLEAVE_ACCESS_LOG: 'off', CLEAVE_RATE_LIMIT: 'off' };

interface Row extends CallFigures {
  name: string;
  concurrency: number;
}

const rows: Row[] = [];
const node = (services: string) =>
  startServer(
    `node running ${services}`,
    [
      process.execPath,
      '--conditions=cleave-source',
      '--import',
      'tsx',
      'bench/fixtures/cluster-node.ts',
      services,
      NATS_URL,
    ],
    QUIET,
  );

// Calls across nodes.
const callee = await node('users');
const caller = await node('front');
try {
  for (const concurrency of CONCURRENCY) {
    rows.push({
      name: 'ctx.call to another node, over NATS',
      concurrency,
      ...(await loop(caller.port, '/bench', CALLS, concurrency)),
    });
    rows.push({
      name: 'event round trip to another node, over NATS',
      concurrency,
      ...(await loop(caller.port, '/bench-events', CALLS, concurrency)),
    });
  }
} finally {
  await Promise.all([caller.stop(), callee.stop()]);
}
for (const concurrency of CONCURRENCY) {
  rows.push({
    name: 'Moleculer, NATS transporter',
    concurrency,
    ...(await moleculerCalls(CALLS, concurrency, { natsUrl: NATS_URL })),
  });
  rows.push({
    name: 'Moleculer events round trip, NATS transporter',
    concurrency,
    ...(await moleculerCalls(CALLS, concurrency, { natsUrl: NATS_URL, measure: 'events' })),
  });
}

// Tasks: the supervisor's queue, then JetStream's.
for (const [name, env] of [
  ['ctx.run, the node’s own queue', {}],
  ['ctx.run, through NATS JetStream', { CLEAVE_NATS_URL: NATS_URL }],
] as const) {
  const server = await startServer(name, [process.execPath, 'bin/cleave.js', 'start', 'bench/fixtures/task-loop'], {
    ...QUIET,
    CLEAVE_AUTOSCALE: 'false',
    CLEAVE_TASK_WORKERS: '1',
    ...env,
  });
  try {
    for (const concurrency of TASK_CONCURRENCY) {
      rows.push({ name, concurrency, ...(await loop(server.port, '/bench-task', TASKS, concurrency)) });
    }
  } finally {
    await server.stop();
  }
}

// Two nodes vs one.
const ONE_NODE = 'GET /hash, one node (one core)';
const TWO_NODES = 'GET /hash, two nodes (one core each)';
const taskNode = (core: number) =>
  startServer(
    `node on core ${core}`,
    onCore(core, [process.execPath, 'bin/cleave.js', 'start', 'bench/fixtures/task-loop']),
    {
      ...QUIET,
      CLEAVE_AUTOSCALE: 'false',
      CLEAVE_TASK_WORKERS: '1',
      CLEAVE_NATS_URL: NATS_URL,
    },
  );
/** HASHES requests, HASH_CONCURRENCY at a time, taking the nodes in turn. */
async function hashOver(nodes: ServerUnderTest[]) {
  let turn = 0;
  const hashOnce = async () => {
    const node = nodes[turn++ % nodes.length] as ServerUnderTest;
    const response = await fetch(`http://127.0.0.1:${node.port}/hash?password=p${turn}`);
    if (!response.ok) throw new Error(`GET /hash on ${node.port}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  await warmUp(hashOnce, 40);
  return measureCalls(hashOnce, HASHES, HASH_CONCURRENCY);
}
const first = await taskNode(0);
try {
  // Measured before the second node starts: its worker would otherwise take tasks too.
  rows.push({ name: ONE_NODE, concurrency: HASH_CONCURRENCY, ...(await hashOver([first])) });
  const second = await taskNode(1);
  try {
    rows.push({ name: TWO_NODES, concurrency: HASH_CONCURRENCY, ...(await hashOver([first, second])) });
  } finally {
    await second.stop();
  }
} finally {
  await first.stop();
}

const find = (name: string, concurrency: number) =>
  rows.find((row) => row.name === name && row.concurrency === concurrency) as Row;
const ratios = {
  ...Object.fromEntries(
    CONCURRENCY.map((concurrency) => {
      const cleave = find('ctx.call to another node, over NATS', concurrency);
      const peer = find('Moleculer, NATS transporter', concurrency);
      const events = find('event round trip to another node, over NATS', concurrency);
      const peerEvents = find('Moleculer events round trip, NATS transporter', concurrency);
      return [
        `calls, concurrency ${concurrency}`,
        {
          natsCallOverMoleculer: ratio(cleave.callsPerSecond, peer.callsPerSecond),
          p99NatsCallOverMoleculer: ratio(cleave.p99Ms, peer.p99Ms),
          eventRoundTripsOverMoleculer: ratio(events.callsPerSecond, peerEvents.callsPerSecond),
          p99EventRoundTripOverMoleculer: ratio(events.p99Ms, peerEvents.p99Ms),
        },
      ];
    }),
  ),
  ...Object.fromEntries(
    TASK_CONCURRENCY.map((concurrency) => {
      const local = find('ctx.run, the node’s own queue', concurrency);
      const shared = find('ctx.run, through NATS JetStream', concurrency);
      return [
        `tasks, concurrency ${concurrency}`,
        {
          jetStreamOverLocal: ratio(shared.callsPerSecond, local.callsPerSecond),
          p99JetStreamOverLocal: ratio(shared.p99Ms, local.p99Ms),
        },
      ];
    }),
  ),
  'two nodes vs one': {
    twoNodesOverOne: ratio(
      find(TWO_NODES, HASH_CONCURRENCY).callsPerSecond,
      find(ONE_NODE, HASH_CONCURRENCY).callsPerSecond,
    ),
    p99TwoNodesOverOne: ratio(find(TWO_NODES, HASH_CONCURRENCY).p99Ms, find(ONE_NODE, HASH_CONCURRENCY).p99Ms),
  },
};
writeResults('cluster', { ...machine(), natsUrl: NATS_URL, pinned, rows, ratios });
console.table(rows);
console.log(JSON.stringify(ratios));
