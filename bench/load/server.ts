// Starts a server under test as a child process and learns its port from the
// JSON 'listening' line it logs, the way a user would see it start.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerUnderTest {
  child: ChildProcess;
  port: number;
  /** The first lines it logged, kept as they come (e.g. where its replicas are); at most 1000. */
  startupLog: string[];
  stop(): Promise<void>;
}

/** `argv` runs from the repository root; env is added to this process's. */
export async function startServer(
  name: string,
  argv: [string, ...string[]],
  env: Record<string, string> = {},
): Promise<ServerUnderTest> {
  const [command, ...args] = argv;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const startupLog: string[] = [];
  const listening = new Promise<number>((resolve, reject) => {
    let buffered = '';
    let listening = false;
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (startupLog.length < 1000) startupLog.push(line);
        const match = /"port":(\d+)/.exec(line);
        if (match && line.includes('listening')) {
          listening = true;
          resolve(Number(match[1]));
        }
      }
      if (listening && startupLog.length >= 1000) {
        // Enough kept: from here just drain its logs, as a log collector would, at no cost.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    setTimeout(() => reject(new Error(`${name} did not say it was listening within 20 s`)), 20_000).unref();
  });
  const port = await listening.catch((error: unknown) => {
    // Never leave it running behind a failed benchmark.
    child.kill('SIGTERM');
    throw error;
  });
  return {
    child,
    port,
    startupLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The unix sockets of a split app's `count` replicas, from their 'replica ready' lines. */
export async function replicaSockets(server: ServerUnderTest, count: number): Promise<string[]> {
  // Replicas batch their log lines (up to 100 ms), so theirs may follow the gateway's.
  const readyLines = () => server.startupLog.filter((line) => line.includes('replica ready'));
  for (let tries = 0; tries < 50 && readyLines().length < count; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const sockets = readyLines().map((line) => (JSON.parse(line) as { socket: string }).socket);
  if (sockets.length !== count) throw new Error(`expected ${count} replica sockets, found ${sockets.length}`);
  return sockets;
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}
