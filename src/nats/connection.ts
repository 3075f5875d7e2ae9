// One process's connection to the NATS every node shares: its events now, and later its
// calls, tasks and discovery. The client reconnects by itself, forever, and resubscribes;
// the log hears of an outage once, and once more when it ends.

import type { NatsConnection as Client } from '@nats-io/transport-node';
import { loadOnUse } from '../shared/load-on-use.ts';
import { NatsUnavailableError } from '../errors.ts';
import { Outage, type OutageLog } from '../shared/outage.ts';
import { reasonOf, redactedUrl } from '../shared/server-errors.ts';
import { settledWithin } from '../shared/settle-within.ts';

export interface NatsConnectionOptions {
  /** `nats://[user:password@]host[:port]`; several, comma-separated, for a NATS cluster. */
  url: string;
  /** Longest the first connection may take at start. */
  timeoutMs: number;
  /** Shown in the server's connection list (`nats server report connections`). */
  name: string;
  log?: OutageLog;
}

// A restarted server is noticed within a quarter of a second; a dead one within two missed
// pings (20 s) if the socket itself doesn't say so first.
const RECONNECT_WAIT_MS = 250;
const PING_INTERVAL_MS = 10_000;
const DRAIN_TIMEOUT_MS = 2000;

/** The NATS client package, loaded by a process that connects to NATS. */
export const natsClient = loadOnUse<typeof import('@nats-io/transport-node')>('@nats-io/transport-node');

export class NatsConnection {
  readonly #options: NatsConnectionOptions;
  readonly #outage: Outage | undefined;
  #client: Client | undefined;
  #connected = false;

  constructor(options: NatsConnectionOptions) {
    this.#options = options;
    const { log } = options;
    this.#outage =
      log &&
      new Outage(
        log,
        { nats: this.#servers().map(redactedUrl).join(',') },
        {
          failedMessage: 'NATS unreachable; reconnecting (events meanwhile may not reach this process)',
          resumedMessage: 'NATS reachable again',
        },
      );
  }

  /** The connected client; start() first. */
  get client(): Client {
    if (this.#client === undefined) throw new Error('NatsConnection.start() was not called');
    return this.#client;
  }

  /**
   * False from a lost connection until the client is connected again: what would wait for a
   * server's answer (a JetStream publish, a key-value read) can refuse at once instead.
   */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects; NATS unreachable is a NatsUnavailableError. */
  async start(): Promise<void> {
    try {
      this.#client = await natsClient().connect({
        servers: this.#servers(),
        name: this.#options.name,
        timeout: this.#options.timeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        pingInterval: PING_INTERVAL_MS,
      });
    } catch (error) {
      const where = this.#servers().map(redactedUrl).join(',');
      throw new NatsUnavailableError(`cannot use NATS at ${where}: ${reasonOf(error)}`, { cause: error });
    }
    this.#connected = true;
    void this.#watch(this.#client);
  }

  /**
   * Delivers what subscriptions hold and sends what is buffered, then closes; cut short after
   * DRAIN_TIMEOUT_MS (a server that is gone can't confirm a drain).
   */
  async stop(): Promise<void> {
    const client = this.#client;
    if (client === undefined || client.isClosed()) return;
    await settledWithin([client.drain()], DRAIN_TIMEOUT_MS);
    // A drain refused (no server to drain to) or cut short leaves the client reconnecting.
    if (!client.isClosed()) await client.close();
  }

  async #watch(client: Client): Promise<void> {
    for await (const status of client.status()) {
      if (status.type === 'disconnect') {
        this.#connected = false;
        this.#outage?.failed(new Error(`disconnected from ${status.server}`), 0);
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        this.#outage?.succeeded();
      }
    }
  }

  #servers(): string[] {
    return this.#options.url.split(',').map((server) => server.trim());
  }
}
