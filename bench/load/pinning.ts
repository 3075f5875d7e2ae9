// On a small machine the server and the load generator fight for cores and
// the figures swing by ±20%. Pinning each to its own core (taskset) makes runs
// comparable; BENCH_PIN=0 turns it off.

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const CAN_PIN = process.env.BENCH_PIN !== '0' && existsSync('/usr/bin/taskset') && availableParallelism() >= 2;

/** The command line to start `argv` on `core`, or `argv` itself when pinning is off. */
export function onCore(core: number, argv: [string, ...string[]]): [string, ...string[]] {
  return CAN_PIN ? ['/usr/bin/taskset', '-c', String(core), ...argv] : argv;
}

export const pinned = CAN_PIN;
