// One service's replicas: forks them (runtime/replica-main.ts), attaches each
// to the IPC hub and the log relay, and tells a registry (the gateway) when a
// replica is ready for traffic and when it is gone. Crashed replicas come back
// through ManagedProcess's back-off.

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { IpcHub } from '../ipc/hub.ts';
import { isIpcMessage } from '../ipc/messages.ts';
import { LogRelay } from './log-relay.ts';
import { ManagedProcess, type ManagedProcessEvent } from './managed-process.ts';

const REPLICA_MAIN = fileURLToPath(new URL('../runtime/replica-main.ts', import.meta.url));

/** Who routes traffic to replicas: told when one is ready and when it is gone. */
export interface ReplicaRegistry {
  ready(service: string, replica: { id: string; socketPath: string }): void;
  gone(service: string, id: string): void;
}

export interface ServicePoolOptions {
  service: string;
  replicas: number;
  appModule: string;
  /** Folder for the replicas' unix sockets. */
  socketDir: string;
  hub: IpcHub;
  registry: ReplicaRegistry;
  log: Logger;
  /** Where the replicas' log lines go, tagged. @default process.stdout */
  out?: Writable;
  /** Added to every replica's environment. */
  env?: NodeJS.ProcessEnv;
}

export class ServicePool {
  readonly service: string;
  readonly #options: ServicePoolOptions;
  readonly #processes: ManagedProcess[] = [];
  readonly #firstReady = new Map<string, () => void>();

  constructor(options: ServicePoolOptions) {
    this.service = options.service;
    this.#options = options;
  }

  /** Forks every replica; resolves once each has said it is ready. */
  async start(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let index = 1; index <= this.#options.replicas; index++) {
      const id = `${this.service}#${index}`;
      waits.push(new Promise((resolve) => this.#firstReady.set(id, resolve)));
      const managed = this.#replica(id, index);
      this.#processes.push(managed);
      managed.start();
    }
    await Promise.all(waits);
  }

  /** SIGTERM to every replica (each drains its requests), SIGKILL after the grace. */
  async stop(graceMs: number): Promise<void> {
    await Promise.all(this.#processes.map((managed) => managed.stop(graceMs)));
  }

  /** Kills a replica that is alive but not serving; it comes back through the restart back-off. */
  replace(id: string): void {
    this.#processes.find((managed) => managed.role === id)?.kill();
  }

  get pids(): Array<number | undefined> {
    return this.#processes.map((managed) => managed.pid);
  }

  #replica(id: string, index: number): ManagedProcess {
    const { hub, registry, log } = this.#options;
    const socketPath = join(this.#options.socketDir, `${this.service}-${index}.sock`);
    return new ManagedProcess({
      role: id,
      entry: REPLICA_MAIN,
      env: {
        ...this.#options.env,
        CLEAVE_SERVICE: this.service,
        CLEAVE_SOCKET_PATH: socketPath,
        CLEAVE_APP_MODULE: this.#options.appModule,
      },
      onSpawn: (child) => {
        const relay = new LogRelay(this.#options.out ?? process.stdout, {
          tags: { service: this.service, replica: index },
        });
        void relay.relay({ stdout: child.stdout, stderr: child.stderr });
        if (!child.channel) return;
        hub.attach(id, child.channel);
        child.channel.onMessage((message) => {
          if (!isIpcMessage(message) || message.type !== 'ready') return;
          registry.ready(this.service, { id, socketPath });
          this.#firstReady.get(id)?.();
          this.#firstReady.delete(id);
        });
      },
      onEvent: (event) => this.#onEvent(event, id, log),
    });
  }

  #onEvent(event: ManagedProcessEvent, id: string, log: Logger): void {
    switch (event.type) {
      case 'exited':
        // Out of the pool before anything else: no request may pick a dead replica.
        this.#options.registry.gone(this.service, id);
        if (!event.expected) log.warn({ replica: id, code: event.code, signal: event.signal }, 'replica exited');
        return;
      case 'restarting':
        log.info({ replica: id, delayMs: event.delayMs, attempt: event.attempt }, 'restarting replica');
        return;
      case 'gave-up':
        log.error({ replica: id, crashes: event.crashes, windowMs: event.windowMs }, 'replica keeps crashing; gave up');
        // A replica that never became ready must not hold the start forever.
        this.#firstReady.get(id)?.();
        this.#firstReady.delete(id);
        return;
      default:
    }
  }
}
