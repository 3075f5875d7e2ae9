// Benchmark: service-to-service calls. A small action (users.profile: its input validated,
// a map lookup) called in a loop by another service, measured by one loop
// (bench/load/measure-calls.ts) at 1 and 32 calls in flight:
//   - in one process (`cleave dev`): ctx.call next to calling the function itself, for that
//     action and for one that reads the store;
//   - split (`cleave start`, one replica each): over the replicas' unix sockets;
//   - Moleculer 0.14, the same action between two nodes over its built-in TCP transporter.
//
//   npm run bench:calls     (writes bench/results/calls.json; installs bench/peers on first use)

import { type CallFigures, loop } from './load/measure-calls.ts';
import { ensurePeers, moleculerCalls } from './load/moleculer.ts';
import { machine, ratio, writeResults } from './load/report.ts';
import { startServer } from './load/server.ts';

const APP = 'bench/fixtures/calls-app';
const QUIET = { HOST: '127.0.0.1', CLEAVE_ACCESS_LOG: 'off', CLEAVE_RATE_LIMIT: 'off' };
const CONCURRENCY = [1, 32];
const IN_PROCESS_CALLS = 200_000;
const REMOTE_CALLS = 30_000;

interface Row extends CallFigures {
  name: string;
  concurrency: number;
}

ensurePeers();

const rows: Row[] = [];
const together = await startServer('cleave dev', [process.execPath, 'bin/cleave.js', 'dev', APP], QUIET);
try {
  for (const concurrency of CONCURRENCY) {
    const add = async (name: string, path: string) =>
      rows.push({ name, concurrency, ...(await loop(together.port, path, IN_PROCESS_CALLS, concurrency)) });
    await add('the function itself', '/bench-direct');
    await add('the function, input validated', '/bench-direct-validated');
    await add('ctx.call, one process', '/bench');
    await add('store read: the function, input validated', '/bench-store-direct');
    await add('store read: ctx.call, one process', '/bench-store');
  }
} finally {
  await together.stop();
}
const split = await startServer('cleave start', [process.execPath, 'bin/cleave.js', 'start', APP], QUIET);
try {
  for (const concurrency of CONCURRENCY) {
    rows.push({
      name: 'ctx.call, split (unix sockets)',
      concurrency,
      ...(await loop(split.port, '/bench', REMOTE_CALLS, concurrency)),
    });
  }
} finally {
  await split.stop();
}
for (const concurrency of CONCURRENCY) {
  rows.push({ name: 'Moleculer, TCP transporter', concurrency, ...(await moleculerCalls(REMOTE_CALLS, concurrency)) });
}

const find = (name: string, concurrency: number) =>
  rows.find((row) => row.name === name && row.concurrency === concurrency) as Row;
const ratios = Object.fromEntries(
  CONCURRENCY.map((concurrency) => {
    const direct = find('the function itself', concurrency);
    const validated = find('the function, input validated', concurrency);
    const local = find('ctx.call, one process', concurrency);
    const remote = find('ctx.call, split (unix sockets)', concurrency);
    const peer = find('Moleculer, TCP transporter', concurrency);
    return [
      `concurrency ${concurrency}`,
      {
        // Cost per call, in-process: how many times calling the function it is.
        inProcessCostOverFunction: ratio(direct.callsPerSecond, local.callsPerSecond),
        inProcessCostOverValidatedFunction: ratio(validated.callsPerSecond, local.callsPerSecond),
        storeReadCostOverFunction: ratio(
          find('store read: the function, input validated', concurrency).callsPerSecond,
          find('store read: ctx.call, one process', concurrency).callsPerSecond,
        ),
        splitOverMoleculer: ratio(remote.callsPerSecond, peer.callsPerSecond),
        p99SplitOverMoleculer: ratio(remote.p99Ms, peer.p99Ms),
      },
    ];
  }),
);
const summary = {
  ...machine(),
  rows,
  ratios,
};
writeResults('calls', summary);
console.table(rows);
console.log(JSON.stringify(ratios));
