// Starts an app in this process on an ephemeral port, the way `cleave dev`
// does, and hands back its URL and a stop function.

import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { App } from '../../src/app/app.ts';
import { loadRuntimeConfig } from '../../src/config/runtime-config.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

export interface RunningApp {
  url: string;
  port: number;
  /** Every JSON log line written so far. */
  logs: Array<Record<string, unknown>>;
  runtime: Runtime;
  stop(): Promise<void>;
}

export async function startApp(
  app: App,
  appModule: string | URL,
  env: Record<string, string> = {},
  /** Only these of the app's services run here (a node that runs some). */
  services?: readonly string[],
): Promise<RunningApp> {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log: Logger = pino({ level: 'debug' }, sink);
  const config = loadRuntimeConfig({ PORT: '0', HOST: '127.0.0.1', CLEAVE_TASK_THREADS: '2', ...env });
  const modulePath = appModule instanceof URL ? fileURLToPath(appModule) : appModule;
  const runtime = new Runtime({ app, appModule: modulePath, config, log, ...(services ? { services } : {}) });
  const address = (await runtime.start()) as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    logs,
    runtime,
    stop: () => runtime.stop(),
  };
}
