// One service's replicas: forks them (runtime/replica-main.ts), attaches each
// to the IPC hub and the log relay, and tells a registry (the gateway) when a
// replica is ready for traffic and when it is gone. Crashed replicas come back
// through ManagedProcess's back-off. The autoscaler resizes the pool: new
// replicas take the lowest free index; a replica leaving is drained first (the
// registry stops sending it requests and waits for those in flight), then
// stopped with SIGTERM, so a shrinking pool fails no request.

import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ReplicaLoad } from '../autoscale/autoscaler.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import type { IpcHub } from '../ipc/hub.ts';
import { isIpcMessage } from '../ipc/messages.ts';
import { ownModule } from '../runtime/typescript.ts';
import { LogRelay } from './log-relay.ts';
import { ManagedProcess, type ManagedProcessEvent } from './managed-process.ts';
import type { MetricsGatherer } from '../observability/metrics-gatherer.ts';

const REPLICA_MAIN = ownModule(import.meta.url, '../runtime/replica-main');

/** Who routes traffic to replicas: told when one is ready and when it is gone. */
export interface ReplicaRegistry {
  ready(service: string, replica: { id: string; socketPath: string }): void;
  gone(service: string, id: string): void;
  /** Stop sending the replica requests; resolves once none is in flight there. */
  drain?(service: string, id: string): Promise<void>;
}

export interface ServicePoolOptions {
  service: string;
  /** Gathers the metrics its processes report. */
  metrics?: MetricsGatherer;
  /** Answers a replica that asks where the others are (for its calls to their actions). */
  directory?: { watch(channel: IpcChannel): void };
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
  /** Longest a leaving replica may take to finish its requests. @default 10000 */
  drainGraceMs?: number;
}

interface Member {
  index: number;
  managed: ManagedProcess;
  ready: boolean;
  leaving: boolean;
  load: ReplicaLoad | undefined;
}

export class ServicePool {
  readonly service: string;
  readonly #options: ServicePoolOptions;
  readonly #members = new Map<string, Member>();
  readonly #firstReady = new Map<string, () => void>();
  #stopping = false;

  constructor(options: ServicePoolOptions) {
    this.service = options.service;
    this.#options = options;
  }

  /** Forks every replica; resolves once each has said it is ready. */
  async start(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (let added = 0; added < this.#options.replicas; added++) waits.push(this.#add());
    await Promise.all(waits);
  }

  /** SIGTERM to every replica (each drains its requests), SIGKILL after the grace. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#members.values()].map(({ managed }) => managed.stop(graceMs)));
  }

  /** The pool's name for the autoscaler: the service's. */
  get key(): string {
    return this.service;
  }

  /** Replicas running or starting, not counting those leaving: the pool's size. */
  get size(): number {
    let size = 0;
    for (const member of this.#members.values()) if (!member.leaving) size++;
    return size;
  }

  /** The latest load of each ready replica that is staying. */
  loads(): ReplicaLoad[] {
    const loads: ReplicaLoad[] = [];
    for (const member of this.#members.values()) {
      if (member.ready && !member.leaving && member.load) loads.push(member.load);
    }
    return loads;
  }

  /** Ready replicas that are staying. */
  get readyCount(): number {
    let ready = 0;
    for (const member of this.#members.values()) if (member.ready && !member.leaving) ready++;
    return ready;
  }

  /**
   * Grows by forking replicas (not waiting for them), or shrinks by draining and stopping
   * the newest ones. Resolves once every leaving replica has exited.
   */
  async resize(size: number): Promise<void> {
    if (this.#stopping) return;
    while (this.size < size) void this.#add();
    const staying = [...this.#members.entries()].filter(([, member]) => !member.leaving);
    // The newest leave first: the oldest are warm, and their ids stay stable in logs.
    staying.sort(([, a], [, b]) => b.index - a.index);
    const leaving = staying.slice(0, Math.max(0, this.size - size));
    await Promise.all(leaving.map(([id, member]) => this.#retire(id, member)));
  }

  /** Kills a replica that is alive but not serving; it comes back through the restart back-off. */
  replace(id: string): void {
    this.#members.get(id)?.managed.kill();
  }

  get pids(): Array<number | undefined> {
    return [...this.#members.values()].map(({ managed }) => managed.pid);
  }

  /** Forks one replica at the lowest free index; resolves when it is first ready (or given up). */
  #add(): Promise<void> {
    let index = 1;
    const taken = new Set([...this.#members.values()].map((member) => member.index));
    while (taken.has(index)) index++;
    const id = `${this.service}#${index}`;
    const ready = new Promise<void>((resolve) => this.#firstReady.set(id, resolve));
    const managed = this.#replica(id, index);
    this.#members.set(id, { index, managed, ready: false, leaving: false, load: undefined });
    managed.start();
    return ready;
  }

  async #retire(id: string, member: Member): Promise<void> {
    member.leaving = true;
    const grace = this.#options.drainGraceMs ?? 10_000;
    // Out of the registry first: a request that reached the replica finishes; none follows.
    if (member.ready) await this.#options.registry.drain?.(this.service, id);
    await member.managed.stop(grace);
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
        this.#options.metrics?.watch(child.channel, {
          replica: id,
          service: this.service,
          ...(child.pid ? { pid: child.pid } : {}),
        });
        child.channel.onMessage((message) => {
          if (!isIpcMessage(message)) return;
          const member = this.#members.get(id);
          if (message.type === 'load') {
            if (member) member.load = { inFlight: message.inFlight, eventLoop: message.eventLoop };
            return;
          }
          if (message.type === 'watch-replicas') return this.#options.directory?.watch(child.channel as IpcChannel);
          if (message.type !== 'ready') return;
          if (member) member.ready = true;
          if (!member?.leaving) registry.ready(this.service, { id, socketPath });
          this.#firstReady.get(id)?.();
          this.#firstReady.delete(id);
        });
      },
      onEvent: (event) => this.#onEvent(event, id, log),
    });
  }

  #onEvent(event: ManagedProcessEvent, id: string, log: Logger): void {
    const member = this.#members.get(id);
    switch (event.type) {
      case 'exited':
        // Out of the pool before anything else: no request may pick a dead replica.
        this.#options.registry.gone(this.service, id);
        if (member) {
          member.ready = false;
          member.load = undefined;
        }
        if (member?.leaving && !this.#stopping) this.#members.delete(id);
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
