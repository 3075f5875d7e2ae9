// A NATS server (with JetStream, on disk) of a test's own: for what the machine's shared one
// must not undergo — being stopped and started again mid-test, or listening on another host's
// network. The Debian package's binary, as CI installs it.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './wait.ts';

export const NATS_SERVER = '/usr/sbin/nats-server';

export interface OwnNatsServer {
  url: string;
  /** Stops it as a crash would (SIGKILL): what JetStream wrote to disk stays. */
  kill(): Promise<void>;
  /** Starts it again on the same address and storage. */
  start(): Promise<void>;
  /** Stops it for good and removes its storage. */
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function accepting(host: string, port: number): Promise<void> {
  await until(
    () =>
      new Promise<true | undefined>((resolve) => {
        const socket = connect(port, host, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      }),
    5000,
    `NATS on ${host}:${port}`,
    50,
  );
}

export async function startNatsServer(host = '127.0.0.1', port?: number): Promise<OwnNatsServer> {
  const listenPort = port ?? (await freePort(host));
  const storeDir = await mkdtemp(join(tmpdir(), 'cleave-test-nats-'));
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(NATS_SERVER, ['-a', host, '-p', String(listenPort), '-js', '-sd', storeDir], { stdio: 'ignore' });
    await accepting(host, listenPort);
  };
  const kill = async (): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `nats://${host}:${listenPort}`,
    kill,
    start,
    close: async () => {
      await kill();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
