// The supervisor's side of the gateway process: forks it (gateway/gateway-main.ts), restarts
// it with back-off if it crashes, and keeps it told where the replicas are. It is the
// supervisor's ReplicaRegistry: pools report ready and gone replicas here, and every change
// is forwarded. A gateway that (re)starts asks for the whole set before it listens.

import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { InternalError } from '../errors.ts';
import type { CacheStats } from '../cache/response-cache.ts';
import type { IpcChannel } from '../ipc/channel.ts';
import type { IpcHub } from '../ipc/hub.ts';
import { isIpcMessage, PROTOCOL_VERSION, type IpcMessage, type ReplicaEntry } from '../ipc/messages.ts';
import { fromWire } from '../shared/error-wire.ts';
import { ownModule } from '../runtime/typescript.ts';
import { LogRelay } from './log-relay.ts';
import { ManagedProcess } from './managed-process.ts';
import type { ReplicaRegistry } from './service-pool.ts';
import type { MetricsGatherer } from '../observability/metrics-gatherer.ts';

const GATEWAY_MAIN = ownModule(import.meta.url, '../gateway/gateway-main');

/** Longest a drain waits for the gateway's word: its response timeout (35 s) and a margin. */
const DRAIN_TIMEOUT_MS = 40_000;

export interface GatewayProcessOptions {
  appModule: string;
  /** The gateway's channel joins the event hub, as a replica's does (cache invalidation, later). */
  hub: IpcHub;
  log: Logger;
  /** Added to the gateway's environment, over the supervisor's own (PORT, HOST, CLEAVE_*). */
  env?: NodeJS.ProcessEnv;
  /** Where its log lines go, tagged. @default process.stdout */
  out?: Writable;
  /** An active probe's verdict on a replica flipped. */
  onHealth?: (service: string, id: string, healthy: boolean) => void;
  /** Gathers the metrics its processes report. */
  metrics?: MetricsGatherer;
}

export interface GatewayAddress {
  port: number;
  host: string;
  /** The node listener's port (mutual TLS, for other nodes), when there is one. */
  nodePort?: number;
}

export class GatewayProcess implements ReplicaRegistry {
  readonly #options: GatewayProcessOptions;
  readonly #managed: ManagedProcess;
  readonly #replicas = new Map<string, ReplicaEntry>();
  readonly #env: NodeJS.ProcessEnv;
  /** The running gateway's channel once it has asked for the replicas; undefined before and between runs. */
  #watcher: IpcChannel | undefined;
  /** A gateway that asked before open(): answered then. */
  #waiting: IpcChannel | undefined;
  #open = false;
  /** Drains the gateway has not confirmed yet, by replica id. */
  readonly #drains = new Map<string, () => void>();
  #address: GatewayAddress | undefined;
  #cacheStats: CacheStats | undefined;
  #starting: { resolve: (address: GatewayAddress) => void; reject: (error: Error) => void } | undefined;

  constructor(options: GatewayProcessOptions) {
    this.#options = options;
    this.#env = { ...options.env, CLEAVE_APP_MODULE: options.appModule };
    this.#managed = new ManagedProcess({
      role: 'gateway',
      entry: GATEWAY_MAIN,
      env: this.#env,
      onSpawn: (child) => {
        this.#watcher = undefined;
        const relay = new LogRelay(options.out ?? process.stdout, { tags: { role: 'gateway' } });
        void relay.relay({ stdout: child.stdout, stderr: child.stderr });
        if (!child.channel) return;
        const channel = child.channel;
        options.hub.attach('gateway', channel);
        options.metrics?.watch(channel, { replica: 'gateway', ...(child.pid ? { pid: child.pid } : {}) });
        channel.onMessage((message) => this.#onMessage(channel, message));
      },
      onEvent: (event) => {
        if (event.type === 'exited') {
          this.#watcher = undefined;
          // A gateway that is gone sends nothing anywhere: those drains are done.
          for (const done of [...this.#drains.values()]) done();
          if (this.#starting) {
            // Never listened: a restart would fail the same way (a bad app module, say).
            this.#failStart(
              new InternalError(`the gateway exited before listening (code ${event.code}, ${event.signal})`),
            );
            return;
          }
          if (!event.expected) options.log.warn({ code: event.code, signal: event.signal }, 'gateway exited');
        } else if (event.type === 'restarting') {
          options.log.info({ delayMs: event.delayMs, attempt: event.attempt }, 'restarting gateway');
        } else if (event.type === 'gave-up') {
          options.log.error({ crashes: event.crashes, windowMs: event.windowMs }, 'gateway keeps crashing; gave up');
        }
      },
    });
  }

  get pid(): number | undefined {
    return this.#managed.pid;
  }

  /** The response cache's counters as the gateway last reported them (once a second). */
  get cacheStats(): CacheStats | undefined {
    return this.#cacheStats;
  }

  /**
   * Forks the gateway; resolves once it accepts connections, with where. It loads while the
   * replicas start, and listens only after open(): a client is never told 502 for want of a
   * replica that was about to be ready.
   */
  start(): Promise<GatewayAddress> {
    const listening = new Promise<GatewayAddress>((resolve, reject) => (this.#starting = { resolve, reject }));
    this.#managed.start();
    return listening;
  }

  /** The replicas are ready: the gateway gets their addresses and listens. */
  open(): void {
    this.#open = true;
    if (this.#waiting) this.#watch(this.#waiting);
    this.#waiting = undefined;
  }

  #watch(channel: IpcChannel): void {
    this.#watcher = channel;
    channel.send({ cleave: PROTOCOL_VERSION, type: 'replicas', replicas: [...this.#replicas.values()] });
  }

  #failStart(error: Error): void {
    this.#starting?.reject(error);
    this.#starting = undefined;
    void this.#managed.stop(1000);
  }

  /** SIGTERM: the gateway finishes its requests in flight (up to `graceMs`) and exits. */
  stop(graceMs: number): Promise<void> {
    return this.#managed.stop(graceMs);
  }

  ready(service: string, replica: { id: string; socketPath: string }): void {
    const entry: ReplicaEntry = { service, id: replica.id, address: replica.socketPath };
    this.#replicas.set(replica.id, entry);
    this.#tell({ cleave: PROTOCOL_VERSION, type: 'replica-up', ...entry });
  }

  gone(service: string, id: string): void {
    this.#replicas.delete(id);
    this.#tell({ cleave: PROTOCOL_VERSION, type: 'replica-down', service, id });
  }

  /**
   * The gateway stops picking the replica and confirms once the requests it sent there have
   * finished; at once when no gateway is watching (a restarted one never hears of it).
   */
  drain(service: string, id: string, timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    this.#replicas.delete(id);
    const watcher = this.#watcher;
    if (!watcher || watcher.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drains.get(id)?.();
      // Past the gateway's own response timeout nothing it sent there can still be running.
      const timer = setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#drains.delete(id);
        resolve();
      };
      this.#drains.set(id, done);
      watcher.send({ cleave: PROTOCOL_VERSION, type: 'replica-drain', service, id });
    });
  }

  #tell(message: IpcMessage): void {
    const watcher = this.#watcher;
    if (watcher && !watcher.closed) watcher.send(message);
  }

  #onMessage(channel: IpcChannel, message: unknown): void {
    if (!isIpcMessage(message)) return;
    switch (message.type) {
      case 'watch-replicas':
        if (this.#open) this.#watch(channel);
        else this.#waiting = channel;
        return;
      case 'listening':
        if (this.#address === undefined) {
          this.#address = {
            port: message.port,
            host: message.host,
            ...(message.nodePort === undefined ? {} : { nodePort: message.nodePort }),
          };
          // A restarted gateway binds the port the first one got, even when PORT was 0.
          this.#env.PORT = String(message.port);
          this.#starting?.resolve(this.#address);
          this.#starting = undefined;
        }
        return;
      case 'listen-failed':
        if (this.#starting) this.#failStart(fromWire(message.error));
        else this.#options.log.error({ error: message.error }, 'restarted gateway cannot listen');
        return;
      case 'replica-drained':
        this.#drains.get(message.id)?.();
        return;
      case 'replica-health':
        this.#options.onHealth?.(message.service, message.id, message.healthy);
        return;
      case 'gateway-stats':
        this.#cacheStats = message.cache;
        return;
      default:
    }
  }
}
