// Moleculer, the peer the calls benchmarks measure cleave against: two nodes
// (bench/fixtures/moleculer-node.ts), a callee serving users.profile and a caller timing it by
// the same loop as cleave's calls (or an event's round trip, `measure: 'events'`). Over
// Moleculer's TCP transporter, or over a NATS (`natsUrl`) with its NATS transporter.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { CallFigures } from './measure-calls.ts';
import { freePort, ROOT } from './server.ts';

/** Installs bench/peers (Moleculer and the NATS client it uses) unless they are there. */
export function ensurePeers(): void {
  const installed = ['moleculer', 'nats'].every((name) => existsSync(`${ROOT}/bench/peers/node_modules/${name}`));
  if (installed) return;
  console.log('installing the benchmark peers (bench/peers)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', 'bench/peers'], { cwd: ROOT, stdio: 'inherit' });
}

export async function moleculerCalls(
  calls: number,
  concurrency: number,
  options: { natsUrl?: string; measure?: 'calls' | 'events' } = {},
): Promise<CallFigures> {
  ensurePeers();
  const [calleePort, callerPort] = [await freePort(), await freePort()];
  const node = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', 'bench/fixtures/moleculer-node.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        ...(options.natsUrl ? { MOLECULER_NATS: options.natsUrl } : {}),
        MOLECULER_MEASURE: options.measure ?? 'calls',
      },
    });
  const callee = node(['callee', String(calleePort), String(callerPort)]);
  try {
    await once(createInterface({ input: callee.stdout }), 'line'); // {"ready":true}
    const caller = node(['caller', String(callerPort), String(calleePort), String(calls), String(concurrency)]);
    const [line] = (await once(createInterface({ input: caller.stdout }), 'line')) as [string];
    await once(caller, 'exit');
    return JSON.parse(line) as CallFigures;
  } finally {
    callee.kill();
  }
}
